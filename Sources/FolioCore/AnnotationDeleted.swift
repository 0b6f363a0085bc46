import Foundation

/// The annotation is deleted.
public struct AnnotationDeleted: FolioEventData {
    public static let eventType = "AnnotationDeleted"
    public var annotationId: UUID

    public init(annotationId: UUID) { self.annotationId = annotationId }

    public var normalized: AnnotationDeleted { self }

    public func validate() throws(EventValidationError) {}

    enum CodingKeys: String, CodingKey { case annotationId }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeID(annotationId, forKey: .annotationId)
    }
}
