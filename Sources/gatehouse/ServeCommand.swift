import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API (magic links, tokens, cookie sessions, payment webhook, JWKS, metrics).",
        discussion: """
            Creates the database if it does not exist. Stops gracefully on SIGINT or SIGTERM: requests in flight \
            finish, then the database is closed. Settings come from --config, then the environment, then flags.
            """)

    @OptionGroup var database: DatabaseArguments

    @Option(parsing: .unconditional, help: "Address to listen on.") var host: String?
    @Option(parsing: .unconditional, help: "Port to listen on; 0 picks a free one (printed at start).") var port: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("A TOML file with [server], [rate_limits] and [http] tables.", valueName: "file")) var config: String?
    @Flag(help: "Development mode: the magic-link response also carries the token (dev_token); mail stays in the outbox, unsent, unless --sendmail is given.") var dev = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Where sign-in links point: the app's address, e.g. https://app.example.com (also [mail] public_url, $GATEHOUSE_PUBLIC_URL). Required outside --dev.", valueName: "url"))
    var publicURL: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The sign-in mail's subject and text (a 'Subject:' line, a blank line, the body with {{link}}).", valueName: "file"))
    var mailTemplate: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The mail's From header, e.g. 'Example <no-reply@example.com>'.", valueName: "address"))
    var mailFrom: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The program embedded workers hand mail to, run without a shell (default /usr/sbin/sendmail -t -oi; msmtp, Postfix, Exim, nullmailer).", valueName: "command"))
    var sendmail: String?
    @Flag(help: "Leave Secure off the session cookie (plain-HTTP development only).") var insecureCookies = false
    @OptionGroup var keyFile: KeysCommand.KeyFileOption
    @Option(parsing: .unconditional, help: ArgumentHelp("Session cookie name (default \(ServerOptions.defaultCookieName)); browsers share cookies across ports.",
                               valueName: "name"))
    var cookieName: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Stripe-style webhook secret; prefer $GATEHOUSE_WEBHOOK_SECRET, or '-' to read it from standard input (arguments show in ps).", valueName: "secret"))
    var webhookSecret: String?
    @Flag(help: "Take the client address from the last X-Forwarded-For entry (behind one reverse proxy).") var trustProxy = false
    @Option(name: .customLong("rate-limit"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Override a policy, e.g. refresh=100/minute (repeatable).",
                                                                valueName: "name=rate"))
    var rateLimits: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds after a rotation in which the old refresh token still gets the same successor (a benign race: parallel tabs, a retried request; default 10, 0–60). Later reuse revokes the family.", valueName: "seconds"))
    var refreshReuseGrace: Double?
    @Option(parsing: .unconditional, help: "Document-job slots inside the server; 0 leaves jobs to `gatehouse worker`.") var workers = 1
    @Option(parsing: .unconditional, help: ArgumentHelp("Where documents go (default: <db>-documents beside an SQLite file; for PostgreSQL $XDG_DATA_HOME/gatehouse/documents/<dbname>@<host>:<port>).", valueName: "path"))
    var dataDir: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a client has to send a request's head (default 10; then 408).", valueName: "seconds"))
    var headerTimeout: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a client has to send a request's whole body (default 30; then 408).", valueName: "seconds"))
    var bodyTimeout: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a kept-alive connection may sit idle (default 75).", valueName: "seconds"))
    var idleTimeout: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a client may leave an answer unread before it is closed (default 30).", valueName: "seconds"))
    var sendTimeout: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Connections open at once (default 1024); more wait in the backlog.", valueName: "count"))
    var maxConnections: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds a request may wait for the database (a pooled PostgreSQL connection, SQLite's write lock) before it is answered 503 (default 5, 0.1–600).", valueName: "seconds"))
    var dbWait: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    func run() async throws {
        var options = ServerOptions()
        var configuration = GatehouseConfiguration()
        var mailTable = MailConfigTable()
        if let config {
            let file = try ServerConfigFile.load(path: config)
            options.host = file.host ?? options.host
            options.port = file.port ?? options.port
            options.dev = file.dev ?? options.dev
            options.insecureCookies = file.insecureCookies ?? options.insecureCookies
            options.cookieName = file.cookieName ?? options.cookieName
            options.trustProxy = file.trustProxy ?? options.trustProxy
            for (name, rate) in file.rateLimits { try configuration.rateLimits.override(name, rate: rate) }
            options.http = file.http ?? options.http
            mailTable = file.mail
            options.checkpoints = file.checkpoints
            options.retention = file.retention
            configuration.signingKeyFile = file.signingKeyFile.map(SigningKeyFile.init(path:))
            configuration.refreshReuseGrace = file.refreshReuseGrace ?? configuration.refreshReuseGrace
        }
        let mail = try MailOptions(file: mailTable, publicURL: publicURL, template: mailTemplate, from: mailFrom, sendmail: sendmail)
        if let refreshReuseGrace {
            try require(refreshReuseGrace, in: GatehouseConfiguration.refreshReuseGraceRange, "--refresh-reuse-grace")
            configuration.refreshReuseGrace = refreshReuseGrace
        }
        for (flag, value, keyPath) in [("--header-timeout", headerTimeout, \HTTPLimits.headerTimeout),
                                       ("--body-timeout", bodyTimeout, \HTTPLimits.bodyTimeout),
                                       ("--idle-timeout", idleTimeout, \HTTPLimits.idleTimeout),
                                       ("--send-timeout", sendTimeout, \HTTPLimits.sendTimeout)] {
            guard let value else { continue }
            try require(value, in: HTTPLimits.timeoutRange, flag)
            options.http[keyPath: keyPath] = value
        }
        if let maxConnections {
            try require(maxConnections, in: HTTPLimits.connectionRange, "--max-connections")
            options.http.maxConnections = maxConnections
        }
        var databaseOptions = DatabaseOptions(createIfMissing: true)
        if let dbWait {
            try require(dbWait, in: DatabaseOptions.waitRange, "--db-wait")
            databaseOptions.busyTimeout = dbWait
            databaseOptions.connectionWait = dbWait
        }
        options.host = host ?? options.host
        options.port = port ?? options.port
        options.dev = dev || options.dev
        options.insecureCookies = insecureCookies || options.insecureCookies
        options.cookieName = cookieName ?? options.cookieName
        options.trustProxy = trustProxy || options.trustProxy
        options.workers = workers
        options.dataDirectory = dataDir
        options.webhookSecret = try SecretInput.resolve(webhookSecret, option: "--webhook-secret") ?? ProcessInfo.processInfo.environment["GATEHOUSE_WEBHOOK_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        for override in rateLimits {
            let parts = override.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CLIError.usage("--rate-limit expects name=rate, e.g. refresh=100/minute; got '\(override)'") }
            try configuration.rateLimits.override(parts[0], rate: parts[1])
        }
        guard (0...64).contains(options.workers) else { throw CLIError.usage("--workers must be 0–64") }
        guard (0...65535).contains(options.port) else { throw CLIError.usage("--port must be 0–65535") }
        guard ServerOptions.isValidCookieName(options.cookieName) else {
            throw CLIError.usage("cookie name '\(options.cookieName)' is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)")
        }
        guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError.usage("unknown --log-level '\(logLevel)'") }
        configuration.mail = try mail.settings(dev: options.dev)
        if let file = DatabaseArguments.signingKeyFile(keyFile.path) { configuration.signingKeyFile = file }
        options.sendmail = mail.sendmail

        let gatehouse = try Gatehouse.open(path: database.path, options: databaseOptions, configuration: configuration)
        let existed = !gatehouse.database.created
        // The signing key is made now, not by the first login racing the second.
        _ = try await CLIError.wrap(gatehouse) { try await gatehouse.accessTokens.keyID() }

        var logger = Logger(label: "gatehouse", factory: { TerminalLogHandler(label: $0) })
        logger.logLevel = level
        if let warning = options.cookieNameWarning { logger.warning("\(warning)") }
        if options.dev { logger.notice("development mode: magic-link tokens are returned in responses") }
        for note in mail.notes(configuration.mail, workers: options.workers) { logger.notice("\(note)") }
        if options.webhookSecret == nil { logger.notice("no webhook secret: POST /api/v1/payment/webhook answers 503") }
        for note in gatehouse.database.openingNotes { logger.notice("\(note)") }
        if let damage = gatehouse.database.quickCheck() {
            logger.error("\(DatabaseOpenError.corrupt(path: gatehouse.database.path, detail: damage).description); /healthz answers 503 and writes are refused")
        }

        let server = GatehouseServer(gatehouse: gatehouse, options: options)
        let path = gatehouse.database.path
        let host = options.host
        try await server.run(logger: logger) { port in
            // Scripts and tests wait for this line to learn the port (`say` is unbuffered).
            say("gatehouse \(existed ? "serving" : "created and serving") \(path) on http://\(host):\(port)", oneLine: true)
        }
        say("gatehouse stopped; database closed")
    }
}
