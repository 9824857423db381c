import ModelMesh

/// A conversation rebuilt as alternating turns: consecutive messages of one role are merged
/// into one turn, as the Anthropic and Gemini APIs require.
struct ConversationTurns {
    private(set) var turns: [(role: String, items: [JSONValue])] = []

    /// Adds `items` to the conversation, merging them into the last turn when it has the same
    /// role; an empty list adds nothing.
    mutating func append(_ role: String, _ items: [JSONValue]) {
        guard !items.isEmpty else { return }
        if let last = turns.indices.last, turns[last].role == role {
            turns[last].items += items
        } else {
            turns.append((role, items))
        }
    }
}
