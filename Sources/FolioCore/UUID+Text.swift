import Foundation

extension UUID {
    /// The lower-case `8-4-4-4-12` form ids take in streams, events and replies, written byte
    /// by byte: `uuidString.lowercased()` formats with `sprintf` and builds two strings, a
    /// visible share of the server's time per append.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { buffer in
                var index = 0
                for (offset, byte) in raw.enumerated() {
                    if offset == 4 || offset == 6 || offset == 8 || offset == 10 {
                        buffer[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    let high = byte >> 4, low = byte & 0x0F
                    buffer[index] = high < 10 ? UInt8(ascii: "0") + high : UInt8(ascii: "a") + high - 10
                    buffer[index + 1] = low < 10 ? UInt8(ascii: "0") + low : UInt8(ascii: "a") + low - 10
                    index += 2
                }
                return index
            }
        }
    }

    /// Reads the 36-character `8-4-4-4-12` form in either case from UTF-8 bytes, without
    /// Foundation's `sscanf`; nil for anything else (callers fall back to `UUID(uuidString:)`).
    public init?(canonicalUTF8 bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 36 else { return nil }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &raw) { out -> Bool in
            var i = 0, o = 0
            while i < 36 {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard bytes[i] == UInt8(ascii: "-") else { return false }
                    i += 1
                    continue
                }
                guard let high = ASCIIHex.value(bytes[i]), let low = ASCIIHex.value(bytes[i + 1]) else { return false }
                out[o] = high << 4 | low
                o += 1
                i += 2
            }
            return true
        }
        guard parsed else { return nil }
        self.init(uuid: raw)
    }
}
