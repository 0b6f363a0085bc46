import Foundation

/// New body and/or tags of an annotation (absent fields stay as they were).
public struct AnnotationUpdated: FolioEventData {
    public static let eventType = "AnnotationUpdated"
    public var annotationId: UUID
    public var body: String?
    public var tags: [String]?

    public init(annotationId: UUID, body: String? = nil, tags: [String]? = nil) {
        self.annotationId = annotationId
        self.body = body?.nfc
        self.tags = tags?.map(\.nfc)
    }

    public var normalized: AnnotationUpdated { AnnotationUpdated(annotationId: annotationId, body: body, tags: tags) }

    public func validate() throws(EventValidationError) {
        guard body != nil || tags != nil else { throw .missingField("body") }
        if let tags { try Check.tags(tags) }
    }

    enum CodingKeys: String, CodingKey { case annotationId, body, tags }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(annotationId, forKey: .annotationId)
        try container.encodeIfPresent(body, forKey: .body)
        try container.encodeIfPresent(tags, forKey: .tags)
    }
}
