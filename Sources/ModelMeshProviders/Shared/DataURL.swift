import Foundation
import ModelMesh

/// A `data:` URL carrying base64 content, as OpenAI clients send inline images
/// (`data:image/png;base64,iVBOR...`).
///
/// Shared by the Anthropic and Gemini translators.
struct DataURL: Sendable, Hashable {
    /// The media type, e.g. `image/png`.
    var mediaType: String
    /// The base64 payload, unchanged.
    var base64: String

    /// Parses `text`; `nil` when it is not a `data:` URL at all.
    ///
    /// A `data:` URL that is not base64-encoded or has no media type throws: vendors accept
    /// only base64 image data.
    static func parse(_ text: String) throws -> DataURL? {
        guard text.count >= 5, text.prefix(5).lowercased() == "data:" else { return nil }
        let rest = text.dropFirst(5)
        guard let comma = rest.firstIndex(of: ",") else {
            throw ProviderError(.invalidRequest, message: "Image data URL has no ',' before its data")
        }
        let header = rest[..<comma].split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        let payload = String(rest[rest.index(after: comma)...])
        guard header.dropFirst().contains(where: { $0.lowercased() == "base64" }) else {
            throw ProviderError(.invalidRequest, message: "Image data URL must be base64-encoded (';base64,')")
        }
        guard let type = header.first, !type.isEmpty, type.contains("/") else {
            throw ProviderError(
                .invalidRequest, message: "Image data URL has no media type (e.g. 'data:image/png;base64,')")
        }
        guard !payload.isEmpty else {
            throw ProviderError(.invalidRequest, message: "Image data URL has no data")
        }
        return DataURL(mediaType: type.lowercased(), base64: payload)
    }
}
