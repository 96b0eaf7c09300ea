import Foundation
import Formats

/// Decides whether a path (file or directory) is a checkpoint, and of which format. The
/// command line wires `Checkpoint.detectFormat`; tests inject a simple one.
public typealias FormatDetector = @Sendable (String) -> CheckpointFormat?

/// Opens a checkpoint for reading (the command line wires `Checkpoint.open`).
public typealias CheckpointOpener = @Sendable (String) throws -> any TensorSource

/// A checkpoint found on disk, before it is described or hashed.
public struct ScanCandidate: Sendable, Hashable {
    /// Absolute path of the file or directory.
    public var path: String
    /// As the detector reported it.
    public var format: CheckpointFormat
    /// `ORG/NAME` and the commit, for a Hugging Face hub cache snapshot.
    public var repoId: String?
    public var revision: String?
}

/// Finds checkpoints under a directory: model directories, loose checkpoint files, and the
/// Hugging Face hub cache layout (`models--ORG--NAME/snapshots/REV/`, files symlinked to
/// `blobs/`), one entry per snapshot.
public enum CheckpointScanner {
    /// Every checkpoint under `root` (or `root` itself), in path order.
    public static func candidates(under root: String, detect: FormatDetector) -> [ScanCandidate] {
        let root = absolute(root)
        var out: [ScanCandidate] = []
        var visited: Set<String> = []
        walk(root, detect: detect, origin: nil, into: &out, visited: &visited)
        return out
    }

    private static func walk(
        _ dir: String, detect: FormatDetector, origin: (repo: String, rev: String?)?,
        into out: inout [ScanCandidate], visited: inout Set<String>
    ) {
        guard let st = FileStat(path: dir) else { return }
        // Symlinked directories may form loops: visit each real directory once.
        if st.isDirectory, !visited.insert("\(st.device):\(st.inode)").inserted { return }
        if !st.isDirectory {
            if let f = detect(dir) {
                out.append(
                    ScanCandidate(path: dir, format: f, repoId: origin?.repo, revision: origin?.rev)
                )
            }
            return
        }
        let name = (dir as NSString).lastPathComponent
        if name.hasPrefix("models--"), origin == nil {
            let repo = name.dropFirst("models--".count)
                .components(separatedBy: "--").joined(separator: "/")
            let snapshots = dir + "/snapshots"
            for rev in children(of: snapshots) {
                walk(
                    snapshots + "/" + rev, detect: detect, origin: (repo, rev), into: &out,
                    visited: &visited)
            }
            return
        }
        if let f = detect(dir) {
            out.append(
                ScanCandidate(path: dir, format: f, repoId: origin?.repo, revision: origin?.rev))
            return
        }
        // Hidden entries (.git, .cache, .locks) are skipped by `children`; a hub repo's
        // blobs/ and refs/ are never walked, only its snapshots.
        for child in children(of: dir) {
            walk(dir + "/" + child, detect: detect, origin: origin, into: &out, visited: &visited)
        }
    }

    /// Non-hidden entries of a directory, sorted.
    static func children(of dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
    }

    /// The files of a checkpoint, relative to it (a single file: its own name), sorted;
    /// symlinks are followed, hidden files and directories skipped.
    public static func files(of path: String, isDirectory: Bool) -> [String] {
        guard isDirectory else { return [(path as NSString).lastPathComponent] }
        var out: [String] = []
        var visited: Set<String> = []
        func walk(_ relative: String) {
            let full = relative.isEmpty ? path : path + "/" + relative
            guard let st = FileStat(path: full) else { return }
            if st.isDirectory {
                guard visited.insert("\(st.device):\(st.inode)").inserted else { return }
                for c in children(of: full) {
                    walk(relative.isEmpty ? c : relative + "/" + c)
                }
            } else if st.isRegular {
                out.append(relative)
            }
        }
        walk("")
        return out.sorted()
    }

    /// `path` made absolute against the working directory and standardized (no `..`, no
    /// trailing slash); symlinks are kept, since a hub snapshot is known by its own path.
    public static func absolute(_ path: String) -> String {
        let base = FileManager.default.currentDirectoryPath
        let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: base, isDirectory: true))
        var p = url.standardized.path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        return p
    }
}
