import Foundation

extension JSONValue {
    /// The value as short text: a string as is, anything else as compact JSON.
    var compactText: String {
        switch self {
        case .string(let text): return text
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number): return number.formatted(.number.grouping(.never))
        case .array, .object:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(self) else { return "?" }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
