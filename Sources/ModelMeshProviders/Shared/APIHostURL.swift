import Foundation

/// The base URL of a vendor whose `base_url` names the API host (Anthropic, Gemini): the
/// connector appends the versioned paths itself (`/v1/messages`, `/v1beta/models/...`).
///
/// A trailing version segment the user added by habit (`https://api.anthropic.com/v1`) is
/// dropped so the connector does not send `/v1/v1/messages`; a path prefix in front of it
/// (a gateway such as `https://gateway.example.com/anthropic`) is kept.
enum APIHostURL {
    /// The normalized base URL, without a trailing slash or version segment.
    ///
    /// - Parameters:
    ///   - text: The configured `base_url`.
    ///   - providerID: For the error.
    ///   - versionSegments: Trailing segments to drop (`v1`, `v1beta`).
    ///   - example: A correct value, for the hint.
    /// - Throws: ``ProviderSetupError`` `invalid_base_url` when `text` is not an http(s) URL with a host.
    static func normalize(_ text: String, providerID: String, versionSegments: [String], example: String) throws
        -> String
    {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            components.query == nil
        else {
            throw ProviderSetupError(
                code: "invalid_base_url", providerID: providerID,
                message: "base_url '\(trimmed)' is not an http(s) URL without a query",
                hint: "Write the API host, like \(example)")
        }
        for segment in versionSegments where trimmed.lowercased().hasSuffix("/" + segment) {
            trimmed.removeLast(segment.count + 1)
            break
        }
        return trimmed
    }
}
