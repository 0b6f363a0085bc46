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
}
