/// Leader election over a `coordination.k8s.io/v1` Lease, as client-go does it, without I/O: the
/// elector reads the Lease, asks this what to write, writes it, and says how the write went.
///
/// Another holder's Lease is judged expired by this replica's own clock: `leaseDuration` after the
/// moment this replica last saw its renew time change, never by comparing the remote timestamp
/// with the local clock (two machines' clocks may disagree). A leader renews every retry period,
/// and stops leading the moment `renewDeadline` has passed since its last successful renew, before
/// anyone else may take the Lease over: two replicas never both believe they lead.
public struct LeaseElection: Sendable, Equatable {
    public struct Timing: Sendable, Equatable {
        public var leaseDuration: Double
        public var renewDeadline: Double
        public var retryPeriod: Double

        /// client-go's usual values: 15 s, 10 s, 2 s.
        public init(leaseDuration: Double = 15, renewDeadline: Double = 10, retryPeriod: Double = 2) {
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }

        /// Why the three do not fit, or nil: a leader must give up (renew deadline) before a
        /// stand-by may take over (lease duration), and must try to renew more than once in that time.
        public var problem: String? {
            guard [leaseDuration, renewDeadline, retryPeriod].allSatisfy({ $0.isFinite && $0 > 0 && $0 <= 3600 }) else {
                return "each must be a number of seconds above 0 and at most 3600"
            }
            guard renewDeadline > retryPeriod else { return "the renew deadline must be longer than the retry period" }
            guard leaseDuration > renewDeadline else { return "the lease duration must be longer than the renew deadline" }
            return nil
        }
    }

    /// The Lease as read: its spec's holder, renew time (as written, compared only for change),
    /// transitions, and the resourceVersion a write must carry.
    public struct Observed: Sendable, Equatable {
        public var holder: String?
        public var renewTime: String?
        public var transitions: Int
        public var resourceVersion: String
        /// Where the holder takes stats and pokes (`host:port`), which a stand-by forwards there.
        public var holderAddress: String?
        /// The holder's `leaseDurationSeconds`: a stand-by waits the longer of it and its own.
        public var durationSeconds: Double?
        /// When the holder took the Lease; kept as is on a renew (a PUT replaces the whole spec).
        public var acquireTime: String?

        public init(holder: String?, renewTime: String?, transitions: Int, resourceVersion: String, holderAddress: String? = nil,
                    durationSeconds: Double? = nil, acquireTime: String? = nil) {
            self.durationSeconds = durationSeconds
            self.acquireTime = acquireTime
            self.holder = holder
            self.renewTime = renewTime
            self.transitions = transitions
            self.resourceVersion = resourceVersion
            self.holderAddress = holderAddress
        }
    }

    /// The annotation on the Lease naming where its holder takes stats and pokes.
    public static let addressAnnotation = "thaw.dev/leader-address"

    /// What to write: this replica as the holder, renewed now.
    public enum Write: Sendable, Equatable {
        /// No Lease exists: create it.
        case create
        /// Take over (`transitions` + 1) or renew, guarded by the Lease's resourceVersion.
        case update(resourceVersion: String, transitions: Int, acquiring: Bool)
        /// Another replica holds a live Lease: wait.
        case none
    }

    public enum Change: Sendable, Equatable {
        case none
        case becameLeader
        /// Leadership ended: the renew deadline passed, or another replica holds the Lease.
        case lostLeadership
    }

    public let identity: String
    public let timing: Timing
    public private(set) var isLeader = false
    /// When this replica last renewed (or acquired) the Lease, by its own clock.
    private var renewedAt: Double?
    /// The other holder's record as last seen, and when it was first seen so, by this clock.
    private var seen: (holder: String?, renewTime: String?)?
    private var seenAt = 0.0

    public init(identity: String, timing: Timing = Timing()) {
        self.identity = identity
        self.timing = timing
    }

    public static func == (lhs: LeaseElection, rhs: LeaseElection) -> Bool {
        lhs.identity == rhs.identity && lhs.isLeader == rhs.isLeader && lhs.renewedAt == rhs.renewedAt
    }

    /// Whether this replica may act as leader at `now`: it leads, and its last renew is within the
    /// renew deadline. Checked before every write a leader makes.
    public func leads(at now: Double) -> Bool {
        guard let until = leadsUntil else { return false }
        return now < until
    }

    /// Until when this replica may act as leader without another renew: its last renew plus the
    /// renew deadline; nil when it does not lead.
    public var leadsUntil: Double? {
        guard isLeader, let renewedAt else { return nil }
        return renewedAt + timing.renewDeadline
    }

    /// Given the Lease as just read (nil: there is none), what to write.
    public mutating func decide(_ lease: Observed?, at now: Double) -> (Write, Change) {
        var change = Change.none
        if isLeader, !leads(at: now) {
            isLeader = false
            change = .lostLeadership
        }
        guard let lease else { return (.create, change) }
        if lease.holder == identity {
            return (.update(resourceVersion: lease.resourceVersion, transitions: lease.transitions, acquiring: !isLeader), change)
        }
        if isLeader {
            // Someone else holds it now (an operator cleared it, or it was taken while we could not renew).
            isLeader = false
            change = .lostLeadership
        }
        let record = (lease.holder, lease.renewTime)
        if seen == nil || seen! != record {
            seen = record
            seenAt = now
        }
        let vacant = lease.holder?.isEmpty ?? true
        // The holder's own duration counts too: its renew deadline may be longer than ours.
        let duration = max(timing.leaseDuration, lease.durationSeconds ?? 0)
        guard vacant || now - seenAt >= duration else { return (.none, change) }
        return (.update(resourceVersion: lease.resourceVersion, transitions: lease.transitions + 1, acquiring: true), change)
    }

    /// How the write `decide` asked for went (a conflict or an error is a failure). `now` is when
    /// the write was sent: an answer that took seconds must not lengthen the lead.
    public mutating func wrote(_ succeeded: Bool, at now: Double) -> Change {
        guard succeeded else {
            guard isLeader, !leads(at: now) else { return .none }
            isLeader = false
            return .lostLeadership
        }
        renewedAt = now
        seen = nil
        guard !isLeader else { return .none }
        isLeader = true
        return .becameLeader
    }
}
