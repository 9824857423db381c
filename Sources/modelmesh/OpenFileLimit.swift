#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open file descriptors. Every proxied stream holds two (the client's
/// connection and the upstream's), and the usual soft limit of 1,024 would cap a proxy at about
/// 500 concurrent streams, so `serve` raises the soft limit to the hard one, as servers
/// generally do.
enum OpenFileLimit {
    /// The soft limit before and after; `nil` if the limit could not be read.
    struct Change: Equatable {
        var before: UInt64
        var after: UInt64
    }

    /// Raises the soft limit to the hard limit (on Darwin, also bounded by `OPEN_MAX`).
    static func raiseToHardLimit() -> Change? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return nil }
        let before = UInt64(limit.rlim_cur)
        var target = limit.rlim_max
        #if canImport(Darwin)
        target = min(target, rlim_t(OPEN_MAX))
        #endif
        guard target > limit.rlim_cur else { return Change(before: before, after: before) }
        limit.rlim_cur = target
        guard setrlimit(resource, &limit) == 0 else { return Change(before: before, after: before) }
        return Change(before: before, after: UInt64(target))
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
