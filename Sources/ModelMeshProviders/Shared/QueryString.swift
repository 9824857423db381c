import Foundation

/// URL query values.
enum QueryString {
    /// `text` percent-encoded for a query value (only unreserved characters stay as they are).
    static func escaped(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
