import { eventTimeOrNow, isIsoDateTime, TOPICS, topicOf } from './envelope';
import { ROLES } from './roles';

describe('contracts', () => {
  it('takes only real ISO 8601 date-times with an offset as event times', () => {
    for (const ok of ['2026-12-07T06:15:05Z', '2026-12-07T06:15:05.123456+09:00', '2026-12-07T06:15+0100']) expect([ok, isIsoDateTime(ok)]).toEqual([ok, true]);
    for (const bad of ['1', '2026', '2026-12-07', '2026-13-45T00:00:00Z', '2026-12-07T06:15:05', 'yesterday', '', 20261207, null]) {
      expect([bad, isIsoDateTime(bad)]).toEqual([bad, false]);
    }
    expect(eventTimeOrNow('1', '2026-12-07T06:15:05Z')).toBe('2026-12-07T06:15:05Z');
    expect(Math.abs(Date.parse(eventTimeOrNow('1', undefined)) - Date.now())).toBeLessThan(5000);
  });

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
