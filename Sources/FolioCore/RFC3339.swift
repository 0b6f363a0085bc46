import Foundation

/// RFC 3339 times (SPEC §9), e.g. `2026-01-10T08:00:00Z`.
public enum RFC3339 {
    /// Parses `2026-01-10T08:00:00Z`, with or without fractional seconds, `Z` or an offset.
    public static func date(from text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// Formats in UTC with `Z`; fractional seconds only when the time has them.
    public static func string(from date: Date) -> String {
        let whole = date.timeIntervalSince1970.rounded(.down) == date.timeIntervalSince1970
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: !whole))
    }
}
