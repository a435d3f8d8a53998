export { buildPriorityPlan, compareCandidates, samePlanRouting } from './priority-plan';
export { compileModelAccess } from './model-access';
