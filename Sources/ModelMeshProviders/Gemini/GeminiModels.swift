import ModelMesh

/// The Gemini models configured when a provider lists none of its own.
///
/// Prices are USD per one million text tokens from Google's public Gemini API price list
/// (paid tier):
///
/// - `gemini-2.0-flash`: $0.10 in / $0.40 out, cached input $0.025; 1,048,576 context, 8,192 out.
/// - `gemini-2.0-flash-lite`: $0.075 in / $0.30 out; 1,048,576 context, 8,192 out.
/// - `gemini-2.5-flash`: $0.30 in / $2.50 out (thinking billed as output); 1,048,576
///   context, 65,536 out. Its cached-input price has changed over time and is left unset, so
///   cached tokens are priced as plain input (an overestimate).
/// - `text-embedding-004`: embeddings, 2,048 input tokens; no pricing is set because the
///   Gemini API has offered it free of charge and no paid price was confirmed.
public enum GeminiModels {
    static let chatCapability = "generation.text-generation.chat-completion"
    static let embeddingCapability = "representation.embeddings.text-embeddings"

    /// The default models for a provider with id `google`.
    public static let defaults: [ModelConfiguration] = defaults(providerID: "google")

    /// The default models for a provider with the given id; model ids are `<providerID>.<wire name>`.
    public static func defaults(providerID: String) -> [ModelConfiguration] {
        let chatFeatures: ModelFeatures = [.toolCalling, .vision, .systemPrompt, .jsonMode, .structuredOutput]
        func chat(_ name: String, maxOutput: Int, pricing: ModelPricing?) -> ModelConfiguration {
            ModelConfiguration(
                id: "\(providerID).\(name)", name: name, provider: providerID, capabilities: [chatCapability],
                features: chatFeatures, contextWindow: 1_048_576, maxOutputTokens: maxOutput, pricing: pricing)
        }
        return [
            chat(
                "gemini-2.0-flash", maxOutput: 8_192,
                pricing: ModelPricing(inputPerMillion: 0.10, outputPerMillion: 0.40, cachedInputPerMillion: 0.025)),
            chat(
                "gemini-2.0-flash-lite", maxOutput: 8_192,
                pricing: ModelPricing(inputPerMillion: 0.075, outputPerMillion: 0.30)),
            chat(
                "gemini-2.5-flash", maxOutput: 65_536,
                pricing: ModelPricing(inputPerMillion: 0.30, outputPerMillion: 2.50)),
            ModelConfiguration(
                id: "\(providerID).text-embedding-004", name: "text-embedding-004", provider: providerID,
                capabilities: [embeddingCapability], delivery: DeliveryModes(synchronous: true, streaming: false),
                contextWindow: 2_048),
        ]
    }
}
