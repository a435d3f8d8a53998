import type { PlanCandidate } from '@switchyard/contracts';
import { effortOf, parseModelVariant, type ModelVariant } from '@switchyard/providers';
import type { ChatRequestView } from './chat-request.validation';

export interface ResolvedModel {
  /** The catalog model that routes the request (the base of a variant). */
  model: string;
  candidates: readonly PlanCandidate[];
  /** The variant the client asked for; null when the id is itself in the catalog. */
  variant: ModelVariant | null;
}

/**
 * The channels for a requested model id. An id in the catalog is used as is
 * (so a real model named `o3-mini-high` is never split); otherwise a variant
 * suffix (`-low/-medium/-high/-minimal`, `-thinking`, `-nothinking`,
 * `-thinking-<budget>`) is split off and its base looked up. Null: neither
 * is served.
 */
export function resolveModel(models: ReadonlyMap<string, readonly PlanCandidate[]>, requested: string): ResolvedModel | null {
  const direct = models.get(requested);
  if (direct) return { model: requested, candidates: direct, variant: null };
  const variant = parseModelVariant(requested);
  if (variant.suffix === null || variant.reasoning === null) return null;
  const candidates = models.get(variant.base);
  return candidates ? { model: variant.base, candidates, variant } : null;
}

/**
 * A key allowed a base model may use its variants: true when `requested` is
 * not itself in the catalog, is a variant, and the key allows its base.
 */
export function variantOfAllowedModel(key: { allowsModel(model: string): boolean }, models: ReadonlyMap<string, unknown> | undefined, requested: string): boolean {
  if (!models || models.has(requested)) return false;
  const v = parseModelVariant(requested);
  return v.suffix !== null && v.reasoning !== null && key.allowsModel(v.base);
}

/**
 * Makes the request ask for the variant's reasoning, whatever the client's
 * body said: the canonical request (every translated path) gets it as its
 * reasoning config — each upstream builder turns it into its own parameter
 * (OpenAI `reasoning_effort`, Anthropic `thinking.budget_tokens`, Gemini
 * `thinkingConfig.thinkingBudget`) — and an OpenAI body that goes upstream
 * as is gets `reasoning_effort`. The view then routes by the base model;
 * `requestedModel` keeps the client's id for the books.
 */
export function applyModelVariant(view: ChatRequestView, resolved: ResolvedModel): void {
  const variant = resolved.variant;
  if (!variant?.reasoning) return;
  view.requestedModel = view.model;
  view.model = resolved.model;
  view.reasoningOverride = variant.reasoning;
  if (view.canonical) view.canonical.reasoning = variant.reasoning;
  if (view.protocol === 'openai') {
    const effort = effortOf(variant.reasoning);
    if (effort === undefined || effort === 'none') delete view.body.reasoning_effort;
    else view.body.reasoning_effort = effort;
  }
}
