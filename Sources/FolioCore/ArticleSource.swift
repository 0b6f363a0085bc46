import Foundation

/// Where an article comes from (`ArticleCreated.source`).
public struct ArticleSource: Sendable, Hashable, Codable {
    public var byline: String?
    public var url: String?
    /// Written as RFC 3339.
    public var publishedAt: Date?

    public init(byline: String? = nil, url: String? = nil, publishedAt: Date? = nil) {
        self.byline = byline?.nfc
        self.url = url
        self.publishedAt = publishedAt
    }

    enum CodingKeys: String, CodingKey { case byline, url, publishedAt }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        byline = try container.decodeIfPresent(String.self, forKey: .byline)?.nfc
        url = try container.decodeIfPresent(String.self, forKey: .url)
        if let text = try container.decodeIfPresent(String.self, forKey: .publishedAt) {
            guard let date = RFC3339.date(from: text) else {
                throw DecodingError.dataCorruptedError(forKey: .publishedAt, in: container, debugDescription: "not an RFC 3339 time: \"\(text)\"")
            }
            publishedAt = date
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(byline, forKey: .byline)
        try container.encodeIfPresent(url, forKey: .url)
        try container.encodeIfPresent(publishedAt.map(RFC3339.string(from:)), forKey: .publishedAt)
    }

    func validate() throws(EventValidationError) {
        if let url, URL(string: url)?.scheme == nil {
            throw .invalidField(field: "source.url", reason: "not an absolute URL: \"\(url)\"")
        }
    }
}
