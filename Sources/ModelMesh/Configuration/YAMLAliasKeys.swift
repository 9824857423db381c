/// Finds aliases used as mapping keys (`*name: value`, `? *name`, `{*name: value}`) in YAML
/// text, before the text is composed.
///
/// Composing checks a mapping's keys for duplicates by comparing them whole, aliases expanded,
/// so a few hundred bytes of nested anchors used as keys (an alias bomb) would keep the
/// loader busy for hours. A configuration never needs an alias as a key, so the loader
/// refuses them up front. The scan skips comments and quoted text; a block scalar's text
/// that looks like an alias key is refused too (quote it).
enum YAMLAliasKeys {
    /// The first alias used as a key: its name and 1-based line and column.
    static func first(in yaml: String) -> (name: String, line: Int, column: Int)? {
        let bytes = Array(yaml.utf8)
        var line = 1
        var lineStart = 0
        var quote: UInt8?  // ' or " while inside a quoted scalar
        var previous: UInt8 = 0x0A  // the last byte that is not a space, tab or (for quotes) quoted
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if let open = quote {
                if byte == open {
                    // '' inside single quotes is an escaped quote; \" inside double quotes too.
                    if open == 0x27, i + 1 < bytes.count, bytes[i + 1] == 0x27 {
                        i += 2
                        continue
                    }
                    quote = nil
                    previous = byte
                } else if byte == 0x5C, open == 0x22 {
                    i += 1  // skip the escaped byte
                } else if byte == 0x0A {
                    line += 1
                    lineStart = i + 1
                }
                i += 1
                continue
            }
            switch byte {
            case 0x0A:
                line += 1
                lineStart = i + 1
                previous = 0x0A
            case 0x20, 0x09, 0x0D:
                break
            case 0x23 where previous == 0x0A || i == 0 || isSpace(bytes[i - 1]):
                // A comment: skip to the end of the line.
                while i + 1 < bytes.count, bytes[i + 1] != 0x0A { i += 1 }
            case 0x22 where isNodeStart(previous), 0x27 where isNodeStart(previous):
                quote = byte
            case 0x2A where isNodeStart(previous):  // *
                var end = i + 1
                while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
                let name = String(decoding: bytes[(i + 1)..<end], as: UTF8.self)
                var next = end
                while next < bytes.count, bytes[next] == 0x20 || bytes[next] == 0x09 { next += 1 }
                let followedByColon =
                    next < bytes.count && bytes[next] == 0x3A
                    && (next + 1 == bytes.count || isSpace(bytes[next + 1]) || isFlowIndicator(bytes[next + 1]))
                if previous == 0x3F || followedByColon {  // `? *a` or `*a :`
                    return (name, line, i - lineStart + 1)
                }
                previous = 0x2A
                i = end
                continue
            default:
                previous = byte
            }
            i += 1
        }
        return nil
    }

    /// Where a node may begin: the start of a line, after `?`, `-`, `:`, `,`, `[` or `{`.
    private static func isNodeStart(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x0A, 0x3F, 0x2D, 0x3A, 0x2C, 0x5B, 0x7B: true
        default: false
        }
    }

    /// The characters libyaml accepts in anchor and alias names.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x2D: true
        default: false
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private static func isFlowIndicator(_ byte: UInt8) -> Bool {
        byte == 0x2C || byte == 0x5B || byte == 0x5D || byte == 0x7B || byte == 0x7D
    }
}
