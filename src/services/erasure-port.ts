/**
 * ErasurePort is what erasure needs beyond the database: copies of a customer's messages kept by the delivery
 * machinery (failed jobs' reasons in the queues, .eml files in the outbox). src/jobs implements it, so services
 * know no queue library.
 */
export interface ErasurePort {
  /** forgetDeliveries removes what the queues and the outbox keep of these touches' deliveries. */
  forgetDeliveries(touchIds: string[]): Promise<void>;
}
