import { TOPICS, topicOf } from './envelope';
import { ROLES } from './roles';

describe('contracts', () => {
  it('names one topic per context as tessera.<context>.events', () => {
    expect(topicOf('inventory')).toBe('tessera.inventory.events');
    expect(Object.values(TOPICS)).toHaveLength(7);
    expect(new Set(Object.values(TOPICS)).size).toBe(7);
  });

  it('lists the roles of the design, owner first', () => {
    expect(ROLES[0]).toBe('owner');
    expect(ROLES).toEqual(expect.arrayContaining(['admin', 'picker', 'viewer', 'client']));
  });
});
