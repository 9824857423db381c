/// A short digest of the settings that decide whether a provider's saved deactivation
/// still applies: its connector, base URL, API key and headers.
///
/// 64-bit FNV-1a: not a cryptographic hash, and not needed to be one. It only tells
/// "changed" from "unchanged"; 64 bits of an API key's 128+ bits of entropy do not let
/// anyone recover the key from a state file.
enum ProviderFingerprint {
    static func of(_ provider: ProviderConfiguration) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            // A separator, so ("ab", "c") and ("a", "bc") differ.
            hash ^= 0xff
            hash &*= 0x0000_0100_0000_01b3
        }
        mix(ConnectorID.normalize(provider.connector))
        mix(provider.baseURL ?? "")
        mix(provider.apiKey?.value ?? "")
        for (name, value) in provider.headers.sorted(by: { $0.key < $1.key }) {
            mix(name)
            mix(value.value)
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
