import ConfigFields
import Foundation
import ThawVocabulary

extension RoutingConfig {
    /// Reads and validates a routing file (YAML or JSON). Every problem names the file and the field.
    public static func load(contentsOf path: String) throws -> RoutingConfig {
        try parse(FieldReader.document(contentsOf: path, what: "the routing file", expected: Self.expectedTopLevel))
    }

    public static func parse(_ text: String, file: String) throws -> RoutingConfig {
        try parse(FieldReader.document(text, file: file, expected: Self.expectedTopLevel))
    }

    private static let expectedTopLevel = "\"targets\" (and optionally \"services\")"

    private static func parse(_ root: FieldReader) throws -> RoutingConfig {
        let file = root.file
        try root.rejectUnknown(allowed: ["targets", "services"])
        var config = RoutingConfig()
        for reader in try root.objectList("targets") ?? [] {
            config.targets.append(try TargetConfig(reader))
        }
        for reader in try root.objectList("services") ?? [] {
            config.services.append(try ServiceConfig(reader))
        }
        try config.validate(file: file)
        return config
    }

    /// Cross-checks what single fields cannot: unique names, known targets, no host claimed twice.
    public func validate(file: String) throws {
        var names = Set<String>()
        for (index, target) in targets.enumerated() where !names.insert(target.name).inserted {
            throw ConfigError(file: file, "targets[\(index)].name: \"\(target.name)\" is used by two targets; names must be unique")
        }
        for (index, service) in services.enumerated() {
            guard names.contains(service.defaultTarget) else {
                throw ConfigError(file: file, "services[\(index)].default: \"\(service.defaultTarget)\" is not a target; add it under targets or fix the name (targets: \(names.sorted().joined(separator: ", ")))")
            }
            if let canary = service.canaryTarget, !names.contains(canary) {
                throw ConfigError(file: file, "services[\(index)].canary: \"\(canary)\" is not a target; add it under targets or fix the name")
            }
            if let mirror = service.mirrorTarget, !names.contains(mirror) {
                throw ConfigError(file: file, "services[\(index)].mirror: \"\(mirror)\" is not a target; add it under targets or fix the name")
            }
        }
        var claimed: [String: String] = [:]
        let routes = targets.map { ($0.name, $0.hosts, $0.pathPrefix, "target") } + services.map { ($0.name, $0.hosts, $0.pathPrefix, "service") }
        for (name, hosts, prefix, kind) in routes {
            for host in hosts {
                let key = HostName.normalized(host) + " " + prefix
                if let other = claimed[key] {
                    throw ConfigError(file: file, "host \"\(host)\" with path prefix \"\(prefix)\" is claimed by both \(other) and \(kind) \"\(name)\"; each host and prefix must route to one place")
                }
                claimed[key] = "\(kind) \"\(name)\""
            }
        }
    }
}

extension TargetConfig {
    static let fields = ["name", "hosts", "pathPrefix", "endpoints", "containerConcurrency", "readinessPath",
                         "queueLimit", "timeoutSeconds", "failure", "protocol"]

    init(_ reader: FieldReader) throws {
        try reader.rejectUnknown(allowed: Self.fields)
        guard let name = try reader.string("name"), !name.isEmpty else {
            throw reader.error("missing field \"\(reader.path)name\" (the target's name, e.g. mnist-v1)")
        }
        self.init(name: name)
        hosts = try reader.stringList("hosts") ?? []
        pathPrefix = try reader.pathPrefix("pathPrefix") ?? "/"
        endpoints = try (reader.stringList("endpoints") ?? []).enumerated().map { index, text in
            guard let address = EndpointAddress(text) else {
                throw reader.error("field \"\(reader.path)endpoints[\(index)]\" must be host:port with a port from 1 to 65535, got \"\(text)\"", at: "endpoints[\(index)]")
            }
            return address
        }
        containerConcurrency = try reader.count("containerConcurrency") ?? 0
        readinessPath = try reader.pathPrefix("readinessPath") ?? "/"
        queueLimit = try reader.count("queueLimit") ?? Self.defaultQueueLimit
        if let timeout = try reader.number("timeoutSeconds") {
            guard timeout > 0, timeout <= 86_400 else {
                throw reader.error("field \"\(reader.path)timeoutSeconds\" must be more than 0 and at most 86400, got \(NumberText.plain(timeout))", at: "timeoutSeconds")
            }
            timeoutSeconds = timeout
        }
        failure = try reader.string("failure")
        if let text = try reader.string("protocol") {
            guard let value = ReplicaProtocol(field: text) else {
                throw reader.error("field \"\(reader.path)protocol\" must be \(ReplicaProtocol.accepted), got \"\(text)\"", at: "protocol")
            }
            `protocol` = value
        }
    }
}

extension ServiceConfig {
    init(_ reader: FieldReader) throws {
        try reader.rejectUnknown(allowed: ["name", "hosts", "pathPrefix", "default", "canary", "canaryTrafficPercent", "mirror", "mirrorPercent"])
        guard let name = try reader.string("name"), !name.isEmpty else {
            throw reader.error("missing field \"\(reader.path)name\" (the service's name, e.g. mnist)")
        }
        guard let defaultTarget = try reader.string("default") else {
            throw reader.error("missing field \"\(reader.path)default\" (the target that serves the default release)")
        }
        let percent = try reader.number("canaryTrafficPercent") ?? 0
        guard (0...100).contains(percent) else {
            throw reader.error("field \"\(reader.path)canaryTrafficPercent\" must be from 0 to 100, got \(NumberText.plain(percent))", at: "canaryTrafficPercent")
        }
        let canary = try reader.string("canary")
        if canary == nil, percent > 0 {
            throw reader.error("field \"\(reader.path)canaryTrafficPercent\" is \(NumberText.plain(percent)) but no \"\(reader.path)canary\" is set; name the canary target or remove the percentage", at: "canaryTrafficPercent")
        }
        let mirror = try reader.string("mirror")
        let mirrorPercent = try reader.number("mirrorPercent") ?? 0
        guard (0...100).contains(mirrorPercent) else {
            throw reader.error("field \"\(reader.path)mirrorPercent\" must be from 0 to 100, got \(NumberText.plain(mirrorPercent))", at: "mirrorPercent")
        }
        if mirror == nil, mirrorPercent > 0 {
            throw reader.error("field \"\(reader.path)mirrorPercent\" is \(NumberText.plain(mirrorPercent)) but no \"\(reader.path)mirror\" is set; name the target that gets the copies or remove the percentage", at: "mirrorPercent")
        }
        self.init(name: name, hosts: try reader.stringList("hosts") ?? [], pathPrefix: try reader.pathPrefix("pathPrefix") ?? "/",
                  defaultTarget: defaultTarget, canaryTarget: canary, canaryTrafficPercent: percent, mirrorTarget: mirror, mirrorPercent: mirrorPercent)
    }
}

extension FieldReader {
    func pathPrefix(_ key: String) throws -> String? {
        guard let value = try string(key) else { return nil }
        guard value.hasPrefix("/") else {
            throw error("field \"\(path)\(key)\" must start with \"/\", got \"\(value)\"")
        }
        return value
    }
}

extension RoutingConfig {
    /// The routing file for this table, in the format `load(contentsOf:)` reads (JSON, which is
    /// also YAML), so a process that owns the endpoints can drive a separate activator through it.
    public var fileText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
