import { isUuid, type EventEnvelope } from '@tessera/contracts';
import { timeOrderedUuid } from '@tessera/persistence';

export interface CreateEnvelopeInput<T> {
  source: string;
  type: string;
  subject: string;
  tenantId: string;
  data: T;
  /** Ordering key; defaults to the subject (the aggregate id). */
  partitionKey?: string;
  traceparent?: string;
  /** Overridable for tests and for the outbox, which fixes the id before insert. */
  id?: string;
  time?: Date;
}

/** Builds a CloudEvents 1.0 envelope with the Tessera extensions (`tenantid`, `partitionkey`). */
export function createEnvelope<T>(input: CreateEnvelopeInput<T>): EventEnvelope<T> {
  const envelope: EventEnvelope<T> = {
    specversion: '1.0',
    id: input.id ?? timeOrderedUuid(),
    source: input.source,
    type: input.type,
    subject: input.subject,
    time: (input.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    tenantid: input.tenantId,
    partitionkey: input.partitionKey ?? input.subject,
    data: input.data,
  };
  if (input.traceparent) envelope.traceparent = input.traceparent;
  return envelope;
}

export interface BinaryMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface IncomingBinaryMessage {
  key?: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

// Attributes carried as `ce_<name>` headers in binary content mode. `datacontenttype` travels as
// `content-type` (CloudEvents Kafka binding) and `traceparent` as its own W3C header.
const CE_ATTRIBUTES = ['specversion', 'id', 'source', 'type', 'subject', 'time', 'tenantid', 'partitionkey'] as const;

/** CloudEvents Kafka binding, binary content mode: attributes as `ce_` headers, data as the JSON value. */
export function encodeBinary(e: EventEnvelope): BinaryMessage {
  const headers: Record<string, string> = { 'content-type': e.datacontenttype };
  for (const name of CE_ATTRIBUTES) headers[`ce_${name}`] = String(e[name]);
  if (e.traceparent) headers['traceparent'] = e.traceparent;
  return {
    key: e.partitionkey,
    value: Buffer.from(JSON.stringify(e.data === undefined ? null : e.data)),
    headers,
  };
}

function headerText(v: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return undefined;
  return typeof one === 'string' ? one : one.toString('utf8');
}

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** An RFC 3339 time as sent, refused when it is not one (DESIGN: `time` is required). */
function timestamp(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) || Number.isNaN(Date.parse(value)))
    throw new InvalidEventError(`CloudEvent header ce_time is not an RFC 3339 time: ${JSON.stringify(value.slice(0, 64))}`);
  return value;
}

/**
 * Inverse of {@link encodeBinary}; throws {@link InvalidEventError} when a required attribute (DESIGN.md's: id,
 * source, type, specversion, time, subject, tenantid, partitionkey) is missing or `time` is no time, or when
 * `id` or `tenantid` is not a UUID: the inbox and every tenant table key on them as uuid, so such an event could
 * never be recorded, and it would stop its partition on every redelivery. Both come back in lower case, as
 * PostgreSQL writes a uuid, so that an id compares equal to its stored copy.
 */
export function decodeBinary(msg: IncomingBinaryMessage): EventEnvelope {
  const h = msg.headers ?? {};
  const attr = (name: string): string | undefined => headerText(h[`ce_${name}`]);
  const required = (name: string): string => {
    const v = attr(name);
    if (!v) throw new InvalidEventError(`CloudEvent header ce_${name} is missing`);
    return v;
  };
  const uuid = (name: string): string => {
    const v = required(name);
    if (!isUuid(v)) throw new InvalidEventError(`CloudEvent header ce_${name} is not a UUID`);
    return v.toLowerCase();
  };
  const specversion = required('specversion');
  if (specversion !== '1.0') throw new InvalidEventError(`unsupported CloudEvents specversion ${specversion}`);
  const subject = required('subject');
  const envelope: EventEnvelope = {
    specversion: '1.0',
    id: uuid('id'),
    source: required('source'),
    type: required('type'),
    subject,
    time: timestamp(required('time')),
    datacontenttype: 'application/json',
    tenantid: uuid('tenantid'),
    partitionkey: required('partitionkey'),
    data: msg.value == null || msg.value.length === 0 ? null : JSON.parse(msg.value.toString('utf8')),
  };
  const traceparent = headerText(h['traceparent']);
  if (traceparent) envelope.traceparent = traceparent;
  return envelope;
}
