import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Document jobs for end users: a signed-in user may export their own data (`user-export`),
/// follow the job and download the result. Audit reports are for operators (CLI, console):
/// the API refuses them. A job of someone else answers 404, so ids reveal nothing.
struct DocumentJobRoutes {
    let gatehouse: Gatehouse
    let bearer: BearerAuthentication

    static let start = APIRoute(
        method: .post, path: "/api/v1/documents/jobs", operationId: "startDocumentJob",
        summary: "Start an export of the signed-in user's data (kind user-export); a second request while one is waiting returns it",
        tag: "documents", security: .bearer, requestSchema: "DocumentJobRequest",
        replies: [202: .init(description: "Queued; Location names the job", schema: "DocumentJob"),
                  401: .problem("Missing or invalid token"),
                  403: .problem("A kind only operators may start")])
    static let status = APIRoute(
        method: .get, path: "/api/v1/documents/jobs/{id}", operationId: "documentJob",
        summary: "State, progress and documents of one of the user's jobs", tag: "documents", security: .bearer,
        replies: [200: .init(description: "The job", schema: "DocumentJob"), 404: .problem("No such job of this user")])
    static let output = APIRoute(
        method: .get, path: "/api/v1/documents/jobs/{id}/output", operationId: "documentJobOutput",
        summary: "Download a document of a finished job (?name=…; default the first, the JSON export)", tag: "documents",
        security: .bearer, queryParameters: ["name"],
        replies: [200: .init(description: "The document, in its own media type", schema: nil, contentType: "application/json",
                             otherContentTypes: ["text/markdown", "text/csv", "application/x-ndjson"]),
                  404: .problem("No such job or document"), 409: .problem("The job has not finished")])

    static let routes = [start, status, output]

    struct StartBody: Decodable { var kind: String }

    func register(on router: Router<GatehouseRequestContext>) {
        router.add(Self.start) { request, context in
            let authenticated = try await bearer.session(request, context)
            let body = try await JSONBody.decode(StartBody.self, from: request)
            guard body.kind == DocumentKinds.userExport else {
                if DocumentKinds.all.contains(body.kind) {
                    throw Problem(.forbidden, "'\(body.kind)' jobs are started by operators (gatehouse jobs start)")
                }
                throw JobError.unknownKind(body.kind)
            }
            let user = authenticated.user
            let enqueued = try await gatehouse.jobs.enqueue(
                JobRequest(kind: DocumentKinds.userExport, arguments: ["user": user.email], uniqueKey: "user-export:\(user.id)"),
                by: .user(id: user.id), context: context.client)
            return try JSONBody.response(JobShape(enqueued.job, outputs: []), status: .accepted,
                                         headers: [.location: "/api/v1/documents/jobs/\(enqueued.job.id)"])
        }
        router.add(Self.status) { request, context in
            let (job, outputs) = try await ownJob(request, context)
            return try JSONBody.response(JobShape(job, outputs: outputs), headers: AuthRoutes.noStore)
        }
        router.add(Self.output) { request, context in
            let (job, outputs) = try await ownJob(request, context)
            guard job.state == .succeeded else {
                throw Problem(.notReady, "job \(job.id) is \(job.state.rawValue) (\(job.progress)%); try again when it has succeeded")
            }
            let name = request.uri.queryParameters.get("name")
            guard let document = name.map({ wanted in outputs.first { $0.name == wanted } }) ?? outputs.first else {
                throw Problem(.notFound, "job \(job.id) has no document named '\(name ?? "")'")
            }
            guard let data = FileManager.default.contents(atPath: document.path) else {
                throw Problem(.notFound, "the document of job \(job.id) is no longer on the server")
            }
            return JSONBody.response(bytes: data, headers: [
                .contentDisposition: "attachment; filename=\"\(document.name)\"", .cacheControl: "no-store",
            ], contentType: document.mediaType)
        }
    }

    /// The job named in the path, if the bearer's user requested it.
    private func ownJob(_ request: Request, _ context: GatehouseRequestContext) async throws -> (Job, [JobOutput]) {
        let authenticated = try await bearer.session(request, context)
        guard let id = context.parameters.get("id", as: Int64.self), let found = try await gatehouse.jobs.find(id: id),
              found.job.requestedBy == GatehouseCore.Actor.user(id: authenticated.user.id).label,
              // A sign-in mail's job is the user's too, but not a document of theirs.
              DocumentKinds.all.contains(found.job.kind) else {
            throw Problem(.notFound, "no such job")
        }
        return found
    }

    /// The API's view of a job: no worker names, no server paths.
    struct JobShape: Encodable {
        struct Document: Encodable { var name: String; var media_type: String; var size: Int64; var sha256: String; var url: String }
        var id: Int64
        var kind: String
        var state: String
        var progress: Int
        var progress_note: String?
        var attempts: Int
        var created_at: Date
        var finished_at: Date?
        var documents: [Document]

        init(_ job: Job, outputs: [JobOutput]) {
            id = job.id
            kind = job.kind
            state = job.state.rawValue
            progress = job.progress
            progress_note = job.progressNote
            attempts = job.attempts
            created_at = job.createdAt
            finished_at = job.finishedAt
            documents = outputs.map {
                Document(name: $0.name, media_type: $0.mediaType, size: $0.size, sha256: $0.sha256,
                         url: "/api/v1/documents/jobs/\(job.id)/output?name=\($0.name)")
            }
        }
    }
}
