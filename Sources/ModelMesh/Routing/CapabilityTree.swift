/// The hierarchy of capabilities (`generation.text-generation.chat-completion`) and their
/// short aliases (`chat-completion`).
///
/// A pool may target any node and then covers every leaf below it; models register at
/// leaves. The tree is open: any dotted path a configuration names is added to it.
public struct CapabilityTree: Sendable {
    // Paths are stored flat in registration order; trees here have a few hundred nodes.
    private var paths: [String] = []
    private var known: Set<String> = []

    /// Aliases and the paths they resolve to.
    public private(set) var aliases: [String: String]

    /// A tree holding the documented hierarchy, the paths used by built-in connectors,
    /// and the standard aliases.
    public static let standard: CapabilityTree = {
        var tree = CapabilityTree(aliases: Self.standardAliases)
        for path in Self.documentedLeaves { tree.register(path) }
        return tree
    }()

    /// An empty tree with the given aliases.
    public init(aliases: [String: String] = [:]) {
        self.aliases = aliases
    }

    /// Adds `path` and its ancestors. Empty paths are ignored.
    public mutating func register(_ path: String) {
        guard !path.isEmpty else { return }
        var prefix = ""
        for part in path.split(separator: ".") {
            prefix = prefix.isEmpty ? String(part) : prefix + "." + part
            if known.insert(prefix).inserted { paths.append(prefix) }
        }
    }

    /// Adds an alias.
    public mutating func addAlias(_ alias: String, for path: String) {
        aliases[alias] = path
        register(path)
    }

    /// The full path of `name`: an alias is expanded, a dotted path is returned as is, a
    /// top-level node name is returned as is; `nil` when the name is unknown.
    public func canonicalPath(_ name: String) -> String? {
        if let target = aliases[name] { return target }
        if known.contains(name) { return name }
        // A leaf may be named by its last component alone (`text-embeddings`).
        let matches = paths.filter { $0.hasSuffix("." + name) && isLeaf($0) }
        return matches.count == 1 ? matches[0] : nil
    }

    /// Whether `path` is a node of the tree.
    public func contains(_ path: String) -> Bool { known.contains(path) }

    /// Whether `path` has no children.
    public func isLeaf(_ path: String) -> Bool {
        known.contains(path) && !paths.contains { $0.hasPrefix(path + ".") }
    }

    /// The leaves under `name` (an alias or a path); a leaf resolves to itself.
    public func leaves(under name: String) -> [String] {
        guard let path = canonicalPath(name) else { return [] }
        return paths.filter { ($0 == path || $0.hasPrefix(path + ".")) && isLeaf($0) }
    }

    /// Whether the node `covering` covers the capability `path` (it is the node or an ancestor).
    public func covers(_ covering: String, _ path: String) -> Bool {
        path == covering || path.hasPrefix(covering + ".")
    }

    /// Every node path, in registration order.
    public var allPaths: [String] { paths }

    /// Every leaf path.
    public var allLeaves: [String] { paths.filter(isLeaf) }

    /// The standard aliases.
    public static let standardAliases: [String: String] = [
        "chat-completion": "generation.text-generation.chat-completion",
        "chat": "generation.text-generation.chat-completion",
        "text-generation": "generation.text-generation",
        "code-generation": "generation.text-generation.code-generation",
        "text-embeddings": "representation.embeddings.text-embeddings",
        "embeddings": "representation.embeddings",
        "text-to-speech": "generation.audio-generation.text-to-speech",
        "speech-to-text": "understanding.audio-understanding.speech-to-text",
        "text-to-image": "generation.image-generation.text-to-image",
        "image-to-text": "understanding.vision-understanding.image-captioning",
        "structured-generation": "generation.structured-generation",
        "image-generation": "generation.image-generation",
        "vision-understanding": "understanding.vision-understanding",
        "tool-calling": "interaction.tool-calling",
        "reranking": "retrieval.reranking",
        "web-search": "retrieval.search.web-search",
        "content-moderation": "evaluation.content-moderation",
    ]

    /// The documented leaves, plus the paths built-in connectors use.
    public static let documentedLeaves: [String] = {
        let groups: [(String, [String])] = [
            ("generation.text-generation", ["chat-completion", "text-completion", "code-generation"]),
            ("generation.structured-generation", ["json-generation", "schema-constrained-output", "function-call-generation"]),
            ("generation.image-generation", ["text-to-image", "image-to-image", "inpainting"]),
            ("generation.audio-generation", ["text-to-speech", "music-generation"]),
            ("generation.video-generation", ["text-to-video", "image-to-video"]),
            ("understanding.text-understanding", ["summarization", "classification", "sentiment-analysis", "entity-extraction"]),
            ("understanding.vision-understanding", ["image-captioning", "object-detection", "ocr"]),
            ("understanding.audio-understanding", ["speech-to-text", "speaker-identification", "audio-classification"]),
            ("understanding.document-understanding", ["document-parsing", "table-extraction", "form-extraction"]),
            ("transformation", ["translation", "rewriting", "style-transfer"]),
            ("transformation.image-editing", ["background-removal", "upscaling", "format-conversion"]),
            ("transformation.audio-processing", ["noise-reduction", "voice-cloning", "audio-separation"]),
            ("representation.embeddings", ["text-embeddings", "image-embeddings", "multimodal-embeddings"]),
            ("representation", ["tokenization", "feature-extraction"]),
            ("retrieval.search", ["semantic-search", "web-search", "image-search", "code-search"]),
            ("retrieval.knowledge-graph", ["graph-query", "entity-linking", "relation-extraction"]),
            ("retrieval.rag", ["retrieval-augmented-generation", "grounded-generation"]),
            ("retrieval", ["reranking"]),
            ("interaction", ["tool-calling", "multi-turn-conversation"]),
            ("interaction.agent-execution", ["single-step-agent", "multi-step-agent"]),
            ("evaluation", ["content-moderation", "toxicity-detection", "factuality-checking", "quality-scoring"]),
        ]
        var leaves = groups.flatMap { group in group.1.map { group.0 + "." + $0 } }
        // Paths used by built-in connectors of the original system, outside the documented tree.
        leaves += [
            "generation.audio.text-to-speech", "understanding.audio.speech-to-text", "generation.image.text-to-image",
            "retrieval.grounded-generation.web-search", "retrieval.semantic-search.web-search",
            "understanding.document-understanding.content-extraction", "representation.image.image-to-text",
        ]
        return leaves
    }()
}
