extension OpenAIRequestScan {
    /// A request body with its `model` replaced and, optionally, usage asked for in the stream,
    /// every other byte as it came.
    ///
    /// - `model`: the new value of every top-level `model` member (all of them, so an upstream
    ///   that reads the last of repeated members sees the same model as the engine). `nil`
    ///   keeps it.
    /// - `includeUsage`: makes `stream_options.include_usage` `true`: sets it where it is
    ///   something else, adds it to a `stream_options` object without it, replaces a
    ///   `stream_options` that is not an object, or adds `"stream_options":{"include_usage":true}`
    ///   at the end of the body's object.
    ///
    /// `scan` must come from ``scan(_:)-(UnsafeRawBufferPointer)`` of the same `body`; a scan of
    /// other bytes is refused rather than trusted.
    ///
    /// ```swift
    /// let routed = try OpenAIRequestScan.splice(body, scan: scan, model: "gpt-4o-mini", includeUsage: true)
    /// ```
    package static func splice(
        _ body: UnsafeRawBufferPointer, scan: OpenAIRequestScan, model: String?, includeUsage: Bool
    ) throws(OpenAIScanError) -> [UInt8] {
        guard scan.closingBraceOffset < body.count, body[scan.closingBraceOffset] == UInt8(ascii: "}"),
            scan.modelValueRange.lowerBound >= 0, scan.modelValueRange.upperBound <= scan.closingBraceOffset,
            body[scan.modelValueRange.lowerBound] == UInt8(ascii: "\""),
            body[scan.modelValueRange.upperBound - 1] == UInt8(ascii: "\"")
        else {
            throw OpenAIScanError(
                kind: .malformedJSON, message: "the scan does not belong to this body", offset: 0)
        }
        let needsUsage = includeUsage && (scan.includeUsage != true || scan.hasRepeatedMembers)
        var edits: [(range: Range<Int>, replacement: [UInt8])] = []
        let modelBytes = model.map { encodedJSONString($0) }
        if needsUsage || (scan.hasRepeatedMembers && model != nil) {
            try collectEdits(body, model: modelBytes, includeUsage: needsUsage, into: &edits)
        } else if let modelBytes {
            edits.append((scan.modelValueRange, modelBytes))
        }
        if edits.isEmpty { return Array(body) }
        edits.sort { $0.range.lowerBound < $1.range.lowerBound }
        var output: [UInt8] = []
        output.reserveCapacity(body.count + edits.reduce(0) { $0 + $1.replacement.count })
        var copied = 0
        for edit in edits {
            output.append(contentsOf: body[copied..<edit.range.lowerBound])
            output.append(contentsOf: edit.replacement)
            copied = edit.range.upperBound
        }
        output.append(contentsOf: body[copied...])
        return output
    }

    /// ``splice(_:scan:model:includeUsage:)-(UnsafeRawBufferPointer,_,_,_)`` over an array.
    package static func splice(
        _ body: [UInt8], scan: OpenAIRequestScan, model: String?, includeUsage: Bool
    ) throws(OpenAIScanError) -> [UInt8] {
        try withTypedThrows(body) { buffer throws(OpenAIScanError) in
            try splice(buffer, scan: scan, model: model, includeUsage: includeUsage)
        }
    }

    /// Walks the top-level object again for every `model` and `stream_options` member.
    private static func collectEdits(
        _ body: UnsafeRawBufferPointer, model: [UInt8]?, includeUsage: Bool,
        into edits: inout [(range: Range<Int>, replacement: [UInt8])]
    ) throws(OpenAIScanError) {
        var cursor = JSONByteCursor(body)
        guard cursor.peekSignificant() == UInt8(ascii: "{") else {
            throw cursor.malformed("expected '{', found \(cursor.describeCurrentByte())")
        }
        var sawStreamOptions = false
        var hasMembers = false
        var more = try cursor.openObject()
        while more {
            hasMembers = true
            let key = try cursor.readKey()
            let start = cursor.position
            if let model, cursor.string(key, equals: "model") {
                try cursor.skipValue()
                edits.append((start..<cursor.position, model))
            } else if includeUsage, cursor.string(key, equals: "stream_options") {
                sawStreamOptions = true
                try streamOptionsEdits(&cursor, into: &edits)
            } else {
                try cursor.skipValue()
            }
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
        if includeUsage, !sawStreamOptions {
            let insertion = (hasMembers ? "," : "") + #""stream_options":{"include_usage":true}"#
            edits.append((cursor.position - 1..<cursor.position - 1, Array(insertion.utf8)))
        }
    }

    /// Edits that make one `stream_options` value ask for usage.
    private static func streamOptionsEdits(
        _ cursor: inout JSONByteCursor, into edits: inout [(range: Range<Int>, replacement: [UInt8])]
    ) throws(OpenAIScanError) {
        let start = cursor.position
        guard cursor.peekSignificant() == UInt8(ascii: "{") else {
            try cursor.skipValue()
            edits.append((start..<cursor.position, Array(#"{"include_usage":true}"#.utf8)))
            return
        }
        var sawIncludeUsage = false
        var more = try cursor.openObject()
        let empty = !more
        while more {
            let key = try cursor.readKey()
            let valueStart = cursor.position
            try cursor.skipValue()
            if cursor.string(key, equals: "include_usage") {
                sawIncludeUsage = true
                let isTrue =
                    isLiteral(cursor, valueStart..<cursor.position, "true")
                if !isTrue { edits.append((valueStart..<cursor.position, Array("true".utf8))) }
            }
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
        if !sawIncludeUsage {
            let insertion = #""include_usage":true"# + (empty ? "" : ",")
            edits.append((start + 1..<start + 1, Array(insertion.utf8)))
        }
    }

    private static func isLiteral(_ cursor: JSONByteCursor, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let start = literal.utf8Start
        for (offset, index) in range.enumerated() where cursor.bytes[index] != start[offset] { return false }
        return true
    }

    /// `string` as a JSON string literal, quotes included: `"`, `\` and control characters
    /// escaped, everything else as UTF-8.
    package static func encodedJSONString(_ string: String) -> [UInt8] {
        var output: [UInt8] = [UInt8(ascii: "\"")]
        output.reserveCapacity(string.utf8.count + 2)
        let hex = Array("0123456789abcdef".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                output.append(contentsOf: Array(#"\u00"#.utf8))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
        return output
    }
}
