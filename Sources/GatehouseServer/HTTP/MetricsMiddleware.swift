import Hummingbird

/// Counts every request by route template and status and records its latency. Sits outside
/// `ProblemMiddleware`, so errors are counted with the status the client saw.
///
/// A request whose connection closed before its answer (the client went away mid-body, or a
/// timeout closed it) is counted as `499`, nginx's "client closed request": whatever error its
/// handler met is not the server's, and an alert on the 5xx rate must not see it.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    static let clientClosedRequest = 499

    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(method: request.method.rawValue, route: route == "NotFound" ? "unmatched" : route,
                              status: context.connectionClosed ? Self.clientClosedRequest : response.status.code,
                              duration: ContinuousClock.now - start)
        return response
    }
}
