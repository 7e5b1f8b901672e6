import { OrderStatusEntity } from './order-status/order-status.entity';
import { PaymentStatusChangeEntity } from './payments/payment-status-change.entity';
import { PaymentEntity } from './payments/payment.entity';

export const BILLING_SCHEMA = 'billing';

export const BILLING_ENTITIES = [PaymentEntity, PaymentStatusChangeEntity, OrderStatusEntity];
