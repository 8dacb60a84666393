import { defineSearchAttributeKey } from '@temporalio/common';

/** Custom search attributes Herald upserts on its workflows, so the Web UI can filter deliveries. */
export const HeraldTenantId = defineSearchAttributeKey('HeraldTenantId', 'KEYWORD');
export const HeraldEndpointId = defineSearchAttributeKey('HeraldEndpointId', 'KEYWORD');
export const HeraldEventType = defineSearchAttributeKey('HeraldEventType', 'KEYWORD');
export const HeraldDeliveryStatus = defineSearchAttributeKey('HeraldDeliveryStatus', 'KEYWORD');

export const heraldSearchAttributes = [HeraldTenantId, HeraldEndpointId, HeraldEventType, HeraldDeliveryStatus];
