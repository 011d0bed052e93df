/** The periodic later-years task: customers reaching an anniversary enter the program or start their next year. */
import { advanceLaterYears } from '../services/later-years.service';
import type { HandlerDeps } from './handler-deps';

/** createLaterYearsMaintenance returns the `later-years` periodic task. */
export function createLaterYearsMaintenance(deps: HandlerDeps) {
  return { 'later-years': () => advanceLaterYears(deps.ctx) };
}
