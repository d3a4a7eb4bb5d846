export { supervisor, type SupervisorHandle } from './supervisor.js'
export { FakeClock, realClock, type Clock, type TimerHandle } from '@lab/clock'
export { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js'
export type { Context, Intensity, NodeOptions, NodeState, NodeStatus, Runnable, Strategy, SupervisorOptions } from './types.js'
