import Foundation
import ModelMesh
import Testing

/// A forwarded request's unknown members are re-encoded: the bytes must not change on a
/// second round trip, or what the engine reads could differ from what the upstream reads.
@Suite("JSONValue round trips")
struct JSONValueRoundTripTests {
    @Test(
        "Numbers are written the same after a second round trip",
        arguments: ["-9223372036845775809.5", "9.3e18", "1e300", "0.5", "-3", "12345678901234567890"])
    func numbersAreStable(number: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let value = try JSONDecoder().decode(JSONValue.self, from: Data("[\(number)]".utf8))
        let first = try encoder.encode(value)
        let second = try encoder.encode(try JSONDecoder().decode(JSONValue.self, from: first))
        #expect(first == second, "\(String(decoding: first, as: UTF8.self)) → \(String(decoding: second, as: UTF8.self))")
    }
}
