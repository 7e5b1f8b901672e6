import { describeOrderToCash } from './order-to-cash';

describeOrderToCash('postgres', async () => ({}));
