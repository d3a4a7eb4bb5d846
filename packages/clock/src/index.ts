export { realClock, sleep, type Clock, type TimerHandle } from './clock.js'
export { FakeClock } from './fake-clock.js'
