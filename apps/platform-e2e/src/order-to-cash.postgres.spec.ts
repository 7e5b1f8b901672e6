import { postgresEventLog } from './event-log';
import { describeOrderToCash } from './order-to-cash';

describeOrderToCash('postgres', async () => ({}), { eventLog: postgresEventLog });
