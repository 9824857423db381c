import ModelMesh

/// The Anthropic models configured when a provider lists none of its own.
///
/// Prices are USD per one million tokens from Anthropic's public price list (cache reads
/// at 10% of the input price, 5-minute cache writes at 125%).
///
/// - `claude-sonnet-4-20250514`: $3 in / $15 out, 200k context. The output cap is the
///   conservative 16,384 of the reference catalogue (the API allows more).
/// - `claude-haiku-4-5-20251001`: $1 in / $5 out, 200k context, output capped at 8,192 as
///   in the reference catalogue (the API allows more). The reference catalogue lists
///   $0.80 / $4, which is the Claude Haiku 3.5 price; Anthropic publishes $1 / $5 for Haiku 4.5.
public enum AnthropicModels {
    /// The capability path of chat models.
    static let chatCapability = "generation.text-generation.chat-completion"

    /// The default models for a provider with id `anthropic`.
    public static let defaults: [ModelConfiguration] = defaults(providerID: "anthropic")

    /// The default models for a provider with the given id; model ids are `<providerID>.<wire name>`.
    public static func defaults(providerID: String) -> [ModelConfiguration] {
        let features: ModelFeatures = [.toolCalling, .vision, .systemPrompt, .prefill]
        return [
            ModelConfiguration(
                id: "\(providerID).claude-sonnet-4-20250514", name: "claude-sonnet-4-20250514", provider: providerID,
                capabilities: [chatCapability], features: features, contextWindow: 200_000, maxOutputTokens: 16_384,
                pricing: ModelPricing(
                    inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.30, cacheWritePerMillion: 3.75)),
            ModelConfiguration(
                id: "\(providerID).claude-haiku-4-5-20251001", name: "claude-haiku-4-5-20251001", provider: providerID,
                capabilities: [chatCapability], features: features, contextWindow: 200_000, maxOutputTokens: 8_192,
                pricing: ModelPricing(
                    inputPerMillion: 1, outputPerMillion: 5, cachedInputPerMillion: 0.10, cacheWritePerMillion: 1.25)),
        ]
    }
}
