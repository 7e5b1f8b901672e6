/**
 * The one form in which an email address is stored, looked up and throttled: trimmed, lower-cased by JavaScript's
 * rules (those the stored rows were made with) and in Unicode NFC, so that spellings nobody can tell apart (a
 * composed and a decomposed "é") are one account, not two.
 */
export function canonicalEmail(email: string): string {
  return email.trim().toLowerCase().normalize('NFC');
}
