/** Injection tokens for values that are not classes. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const CALLER_CONTEXT_SIGNER = Symbol('CALLER_CONTEXT_SIGNER');
export const GATEWAY_LOGGER = Symbol('GATEWAY_LOGGER');
