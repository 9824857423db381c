/// Replaces `${secrets:NAME}` (through a secret store) and `${NAME}` (from the environment)
/// inside configuration strings, in one left-to-right pass so a resolved value is never
/// scanned again.
struct SecretInterpolator {
    enum Failure: Equatable {
        case missingSecret(name: String)
        case missingVariable(name: String)
        case storeFailed(name: String)
        /// A `${secrets:...}` reference where no store applies (inside `secrets:` itself).
        case secretNotAllowed(name: String)
    }

    /// `nil` while reading the `secrets:` section, which configures the store.
    var store: (any SecretStore)?
    var storeID: String
    var environment: [String: String]
    var failOnMissing: Bool
    /// False when the store could not be opened: that was reported once, so references
    /// resolve to empty strings instead of adding one issue each.
    var storeAvailable = true

    /// `text` with references replaced, the references that failed, and the values substituted.
    func interpolate(_ text: String) -> (value: String, failures: [Failure], substituted: [String]) {
        guard text.contains("${") else { return (text, [], []) }
        var output = ""
        var failures: [Failure] = []
        var substituted: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let inner = rest[open.upperBound..<close]
            rest = rest[rest.index(after: close)...]
            if inner.hasPrefix("secrets:") {
                let name = String(inner.dropFirst("secrets:".count))
                let (value, failure) = secret(name)
                output += value
                substituted.append(value)
                if let failure { failures.append(failure) }
            } else if Self.isVariableName(inner) {
                let name = String(inner)
                if let value = environment[name] {
                    output += value
                    substituted.append(value)
                } else if failOnMissing {
                    failures.append(.missingVariable(name: name))
                }
            } else {
                // Not a reference: keep the text as written.
                output += "${" + inner + "}"
            }
        }
        output += rest
        return (output, failures, substituted)
    }

    private func secret(_ name: String) -> (String, Failure?) {
        guard let store else { return ("", .secretNotAllowed(name: name)) }
        guard storeAvailable else { return ("", nil) }
        do {
            if let value = try store.secret(named: name) { return (value, nil) }
            return ("", failOnMissing ? .missingSecret(name: name) : nil)
        } catch {
            return ("", .storeFailed(name: name))
        }
    }

    private static func isVariableName(_ text: Substring) -> Bool {
        guard let first = text.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return text.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
