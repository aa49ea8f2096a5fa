import Foundation
import SeedgateApp
import SeedgateSupport
import Testing

@Suite("settings: command line, environment, config file")
struct ConfigurationTests {
    static func configuration(
        values: [Setting: String] = [:], environment: [String: String] = [:], file: String? = nil
    ) async throws -> SeedgateConfiguration {
        try SeedgateConfiguration(settings: try SettingsReader.layered(values: values, environment: environment, file: file))
    }

    static let malformed: [(String, String, String)] = [
        ("SEEDGATE_PORT", "80a", "--port / SEEDGATE_PORT must be a whole number, not '80a'"),
        ("SEEDGATE_WORKERS", "maybe", "--[no-]workers / SEEDGATE_WORKERS must be true or false"),
        ("SEEDGATE_RESULT_TTL", "1d", "--result-ttl / SEEDGATE_RESULT_TTL must be a whole number"),
        ("SEEDGATE_UPSTREAM_POLL_INTERVAL", "fast", "SEEDGATE_UPSTREAM_POLL_INTERVAL must be a number"),
        ("SEEDGATE_DEFAULT_MAX_IN_FLIGHT", "", "--default-max-in-flight / SEEDGATE_DEFAULT_MAX_IN_FLIGHT is set but empty"),
        ("SEEDGATE_LOG_LEVEL", "loud", "--log-level / SEEDGATE_LOG_LEVEL must be trace, debug"),
    ]

    @Test("a malformed value stops start-up, naming the flag and the variable", arguments: malformed)
    func refused(_ row: (String, String, String)) async throws {
        do {
            _ = try await Self.configuration(environment: [row.0: row.1])
            Issue.record("\(row.0)=\(row.1) was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains(row.2), "\(error.description)")
        }
    }

    @Test("the command line wins over the environment, the environment over the file; the file holds numbers, booleans and nested keys")
    func layers() async throws {
        let file = TestSupport.temporaryDirectory() + "/seedgate.json"
        try Data(#"{"port": 9001, "render": {"concurrency": 3}, "upstream": {"deadline": 42}, "workers": false, "data": {"dir": "/srv/sg"}}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        let fromFile = try await Self.configuration(file: file)
        #expect(fromFile.port == 9001)
        #expect(fromFile.renderConcurrency == 3)
        #expect(fromFile.upstream.deadline == .seconds(42))
        #expect(fromFile.runWorkers == false)
        #expect(fromFile.dataDirectory == "/srv/sg")
        let environment = try await Self.configuration(environment: ["SEEDGATE_PORT": "9002", "SEEDGATE_WORKERS": "true"], file: file)
        #expect(environment.port == 9002 && environment.runWorkers && environment.renderConcurrency == 3)
        let commandLine = try await Self.configuration(values: [.port: "9003"], environment: ["SEEDGATE_PORT": "9002"], file: file)
        #expect(commandLine.port == 9003)
        let defaults = try await Self.configuration()
        #expect(defaults.port == 8080 && defaults.dataDirectory == ".seedgate" && defaults.runWorkers)
    }

    @Test("the operator's decision window for real-person photos: read from its flag's variable, refused outside 60 s to 30 days, by name")
    func decisionWindow() async throws {
        #expect(try await Self.configuration().livenessDecisionWindow == .seconds(86400))
        let set = try await Self.configuration(environment: ["SEEDGATE_LIVENESS_DECISION_TTL": "7200"])
        #expect(set.livenessDecisionWindow == .seconds(7200))
        try set.validate()
        try await Self.expectRefused("SEEDGATE_LIVENESS_DECISION_TTL", ["59", "2592001"]) { _ in
            "(--liveness-decision-ttl / SEEDGATE_LIVENESS_DECISION_TTL) must be 60 to 2592000 seconds"
        }
    }

    /// Each of `values` in `variable` reads, and is refused by `validate()` with `message(value)` in its error.
    static func expectRefused(_ variable: String, _ values: [String], message: (String) -> String) async throws {
        for bad in values {
            let configuration = try await Self.configuration(environment: [variable: bad])
            #expect(throws: ConfigurationError.self, "\(bad)") { try configuration.validate() }
            do { try configuration.validate() } catch {
                #expect("\(error)".contains(message(bad)), "\(error)")
            }
        }
    }

    @Test("upstream submission loops: three by default, SEEDGATE_UPSTREAM_SUBMITTERS read, refused outside 1 to 64 by name")
    func upstreamSubmitters() async throws {
        #expect(try await Self.configuration().upstream.submitters == 3)
        let set = try await Self.configuration(environment: ["SEEDGATE_UPSTREAM_SUBMITTERS": "16"])
        #expect(set.upstream.submitters == 16)
        try set.validate()
        try await Self.expectRefused("SEEDGATE_UPSTREAM_SUBMITTERS", ["0", "65"]) { "SEEDGATE_UPSTREAM_SUBMITTERS must be 1 to 64, not \($0)" }
    }

    @Test("a config file's keys are the variables' names in any spelling, flat or nested; liveness takes a mode beside its times")
    func fileSpellings() async throws {
        let file = TestSupport.temporaryDirectory() + "/seedgate.json"
        try Data(#"""
            {"default_rpm": 77, "SEEDGATE_DEFAULT_MAX_IN_FLIGHT": 5, "upstream": {"poll_interval": 7, "Deadline": 99},
             "log": {"level": "debug"}, "liveness": {"mode": "auto", "ttl": 300, "decision_ttl": 7200}, "max-connections": 50,
             "result_ttl": 86400.0, "upload_quota": 2e15}
            """#.utf8).write(to: URL(fileURLWithPath: file))
        let configuration = try await Self.configuration(file: file)
        #expect(configuration.defaultLimits.rpm == 77 && configuration.defaultLimits.maxInFlight == 5)
        #expect(configuration.upstream.pollInterval == .seconds(7) && configuration.upstream.deadline == .seconds(99))
        #expect(configuration.logLevel == .debug && configuration.maxConnections == 50)
        #expect(configuration.livenessMode == .auto && configuration.livenessLinkLifetime == .seconds(300))
        #expect(configuration.livenessDecisionWindow == .seconds(7200))
        #expect(configuration.resultLinkTTL == .seconds(86400) && configuration.uploadQuota == 2_000_000_000_000_000)
    }

    static let refusedFiles: [(String, String)] = [
        (#"{"upstrem": {"deadline": 600}}"#, "'upstrem.deadline' is not a setting"),
        (#"{"default_rpm": 10, "default": {"rpm": 20}}"#, "sets SEEDGATE_DEFAULT_RPM twice"),
        (#"{"port": [8080]}"#, "--port / SEEDGATE_PORT must be a string, a number or a boolean, not an array"),
        (#"{"log_level": "loud"}"#, "--log-level / SEEDGATE_LOG_LEVEL must be trace, debug"),
        (#"{"port": 80"#, "is not a JSON object of settings"),
        (#"{"port": 80, "port": 90}"#, #"the field "port" appears twice"#),
        (#"{"upstream": {"deadline": 600}, "upstream": {"timeout": 10}}"#, #"the field "upstream" appears twice"#),
        (#"[1, 2]"#, "must hold a JSON object of settings, not an array"),
    ]

    @Test("a config file naming no setting, one setting twice, a value of the wrong kind or no JSON at all stops start-up, saying which", arguments: refusedFiles)
    func fileRefused(_ row: (String, String)) async throws {
        let file = TestSupport.temporaryDirectory() + "/seedgate.json"
        try Data(row.0.utf8).write(to: URL(fileURLWithPath: file))
        do {
            _ = try await Self.configuration(file: file)
            Issue.record("\(row.0) was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description.contains(row.1), "\(error.description)")
        }
    }

    @Test("a config file that cannot be read stops start-up, naming it")
    func missingFile() async throws {
        await #expect(throws: ConfigurationError.self) { try await Self.configuration(file: "/nonexistent/seedgate.json") }
    }

    @Test("seedgate serve with SEEDGATE_RESULT_TTL=1d, or --port 80a, exits at once and says which setting is wrong")
    func serveRefusesMalformed() async throws {
        let server = try ServerProcess(directory: TestSupport.temporaryDirectory(), environment: ["SEEDGATE_RESULT_TTL": "1d"])
        let status = await server.child.wait()
        let output = await server.read(until: "SEEDGATE_RESULT_TTL", timeout: 5)
        #expect(status != 0)
        #expect(output.contains("--result-ttl / SEEDGATE_RESULT_TTL must be a whole number, not '1d'"), "\(output)")
        // The flag's value is judged by the same rule, and named the same way.
        let flagged = try ServerProcess(directory: TestSupport.temporaryDirectory(), arguments: ["--port", "80a"])
        #expect(await flagged.child.wait() != 0)
        let said = await flagged.read(until: "SEEDGATE_PORT", timeout: 5)
        #expect(said.contains("--port / SEEDGATE_PORT must be a whole number, not '80a'"), "\(said)")
    }
}
