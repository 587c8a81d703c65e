import ConfigFields

extension ContainerSpec {
    static let ignoredFields = ["image", "imagePullPolicy", "resources", "ports", "volumeMounts", "livenessProbe",
                                "securityContext"]

    /// Reads one entry of `containers`, checking that its templates parse.
    init(_ reader: FieldReader, baseDirectory: String, notes: inout [ConfigError]) throws {
        try reader.accept(used: ["name", "command", "args", "env", "workingDir", "readinessProbe"], ignored: Self.ignoredFields,
                          because: "replicas run the command as a process on this machine, not in a container", notes: &notes)
        self.init(name: try reader.string("name"), command: try reader.templates("command") ?? [],
                  args: try reader.templates("args") ?? [])
        for entry in try reader.objectList("env") ?? [] {
            try entry.rejectUnknown(allowed: ["name", "value"])
            guard let name = try entry.string("name"), !name.isEmpty else {
                throw entry.error("missing field \(entry.quoted("name")) (the variable's name)")
            }
            let value = try entry.text("value") ?? ""
            try entry.checkTemplate(value, field: "value")
            env.append(EnvVar(name: name, value: value))
        }
        if let directory = try reader.string("workingDir"), !directory.isEmpty {
            workingDirectory = FieldReader.absolutePath(directory, baseDirectory: baseDirectory)
        }
        if let probe = try reader.object("readinessProbe") {
            try probe.accept(used: ["httpGet"], ignored: ["initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold",
                                                          "failureThreshold", "exec", "tcpSocket", "grpc"],
                             because: "local mode probes a starting replica every 25 ms and gives it serving.knative.dev/progress-deadline to become ready",
                             notes: &notes)
            if let get = try probe.object("httpGet") {
                try get.accept(used: ["path"], ignored: ["port", "host", "scheme", "httpHeaders"],
                               because: "local mode probes the port it gives the model server, over plain HTTP", notes: &notes)
                if let path = try get.string("path") {
                    guard path.hasPrefix("/") else {
                        throw get.error("field \(get.quoted("path")) must be a path starting with /, got \"\(path)\"", at: "path")
                    }
                    readinessPath = path
                }
            }
        }
    }
}
