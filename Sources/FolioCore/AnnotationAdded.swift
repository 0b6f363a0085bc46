import Foundation

/// A new annotation (revision 1 of `annotation-<id>`). `target` offsets refer to the
/// article's text at `revision`.
public struct AnnotationAdded: FolioEventData {
    public static let eventType = "AnnotationAdded"
    public var annotationId: UUID
    public var articleId: UUID
    public var revision: Int
    public var target: AnnotationTarget
    public var body: String
    public var tags: [String]
    /// A W3C Web Annotation motivation such as `commenting`, `highlighting`, `questioning`.
    public var motivation: String

    public init(annotationId: UUID, articleId: UUID, revision: Int, target: AnnotationTarget, body: String, tags: [String] = [], motivation: String = "commenting") {
        self.annotationId = annotationId
        self.articleId = articleId
        self.revision = revision
        self.target = target.normalized
        self.body = body.nfc
        self.tags = tags.map(\.nfc)
        self.motivation = motivation
    }

    public var normalized: AnnotationAdded {
        AnnotationAdded(annotationId: annotationId, articleId: articleId, revision: revision, target: target, body: body, tags: tags, motivation: motivation)
    }

    public func validate() throws(EventValidationError) {
        try Check.revision(revision, "revision")
        try target.validate()
        try Check.tags(tags)
        guard !motivation.isEmpty, motivation.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || $0 == "-" }) else {
            throw .invalidField(field: "motivation", reason: "must be a lower-case word such as commenting, got \"\(motivation)\"")
        }
    }

    enum CodingKeys: String, CodingKey { case annotationId, articleId, revision, target, body, tags, motivation }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(annotationId, forKey: .annotationId)
        try container.encodeID(articleId, forKey: .articleId)
        try container.encode(revision, forKey: .revision)
        try container.encode(target, forKey: .target)
        try container.encode(body, forKey: .body)
        try container.encode(tags, forKey: .tags)
        try container.encode(motivation, forKey: .motivation)
    }
}

extension Check {
    static func tags(_ tags: [String], field: String = "tags") throws(EventValidationError) {
        for (index, tag) in tags.enumerated() {
            try nonEmpty(tag, "\(field)[\(index)]")
        }
    }
}
