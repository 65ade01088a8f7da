import Foundation
import GatehouseCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// `gatehouse serve`: the HTTP API over one `Gatehouse`. Routes translate HTTP to Core calls;
/// the rules live in Core.
public struct GatehouseServer: Sendable {
    public let gatehouse: Gatehouse
    public let options: ServerOptions
    public let metrics: ServerMetrics

    public init(gatehouse: Gatehouse, options: ServerOptions, metrics: ServerMetrics = ServerMetrics()) {
        self.gatehouse = gatehouse
        self.options = options
        self.metrics = metrics
    }

    /// Every route, in the order `/openapi.json` lists them.
    public static let catalog = RouteCatalog(
        routes: AuthRoutes.routes + BrowserSessionRoutes.routes + DocumentJobRoutes.routes + PaymentWebhookRoutes.routes
            + OperationalRoutes.routes)

    public static let version = "0.1.0"

    public func openAPIDocument() -> JSONValue {
        OpenAPIDocument.make(catalog: Self.catalog, cookieName: options.cookieName, version: Self.version)
    }

    /// The router with its middleware, outermost first: request origin (id, client address),
    /// metrics, problem rendering; then the routes.
    public func makeRouter() -> Router<GatehouseRequestContext> {
        let router = Router(context: GatehouseRequestContext.self)
        router.add(middleware: RequestOriginMiddleware(trustProxy: options.trustProxy, forwardedFor: ForwardedForAudit(metrics: metrics)))
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ProblemMiddleware(catalog: Self.catalog, metrics: metrics))
        AuthRoutes(gatehouse: gatehouse, options: options, metrics: metrics).register(on: router)
        BrowserSessionRoutes(gatehouse: gatehouse, options: options).register(on: router)
        DocumentJobRoutes(gatehouse: gatehouse, bearer: BearerAuthentication(gatehouse: gatehouse)).register(on: router)
        PaymentWebhookRoutes(gatehouse: gatehouse, options: options).register(on: router)
        let openAPI = openAPIDocument().encoded()
        OperationalRoutes(gatehouse: gatehouse, metrics: metrics, openAPI: { openAPI }).register(on: router)
        return router
    }

    /// The Hummingbird application; `onListening` receives the bound port (useful with port 0).
    public func makeApplication(logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        var services: [any Service] = []
        if options.workers > 0 {
            let directory = options.dataDirectory.map { URL(fileURLWithPath: $0) }
                ?? JobWorker.Options.defaultDataDirectory(for: gatehouse.database)
            services.append(JobWorkerService(worker: JobWorker(gatehouse: gatehouse, options: .init(
                concurrency: options.workers, dataDirectory: directory, sendmail: options.sendmail))))
        }
        let housekeepingLogger = logger
        let report: @Sendable (String) -> Void = { housekeepingLogger.error("\($0)") }
        for task in [PeriodicTask.checkpoints(gatehouse, options.checkpoints, report: report),
                     PeriodicTask.retention(gatehouse, options.retention, checkpoints: options.checkpoints, report: report)].compactMap({ $0 }) {
            services.append(PeriodicService(task: task))
        }
        let limits = options.http
        let metrics = metrics
        let edgeLogger = logger
        return Application(
            router: makeRouter(),
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(responder: responder, limits: limits) { refusal in
                    metrics.recordEdgeRefusal(refusal)
                    edgeLogger.debug("connection refused at the HTTP edge", metadata: ["reason": "\(refusal.rawValue)"])
                }
            },
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "gatehouse",
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)),
            services: services,
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM. Shutdown is graceful: the listener closes, requests in
    /// flight finish, then the database is closed (its WAL checkpointed by SQLite).
    public func run(logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = makeApplication(logger: logger, onListening: onListening)
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        try gatehouse.database.close()
    }
}
