public import Capture
public import PacketParsing

/// Copies every frame the live capture reads, cut after its TCP or UDP header, to a pcapng file: the
/// packets `run --evidence` derived its flows from. Payload never reaches the file (with content
/// inspection the capture keeps whole payloads, prompts among them); each frame keeps its wire
/// length, and the IP header its total length, so flows re-derive with the same packets and bytes.
///
/// Owned by the capture thread, which hands it each frame right after the pipeline has counted
/// it. The writer buffers up to 1 MiB between writes, so the packet path pays a copy into memory per
/// frame and a write per megabyte. A write that fails (a full disk) ends the copy: the file keeps
/// what was written, the frames after it are counted as not written, and capture goes on.
public final class CaptureTap {
    /// What the copy holds, once the capture has ended.
    public struct Summary: Sendable, Equatable {
        public var path: String
        public var linkType: LinkType
        /// Frames known to have reached the file.
        public var framesWritten: Int64 = 0
        /// Frames not written: after a failed write (those of its buffer too), or of another link type.
        public var framesNotWritten: Int64 = 0
        /// Why frames were not written (the first reason), if any were not.
        public var problem: String?

        /// Whether every frame the capture read is in the file.
        public var isComplete: Bool { framesNotWritten == 0 && problem == nil }
    }

    private var writer: CaptureFileWriter?
    private let decoder: PacketDecoder
    /// Frames in the writer's buffer: written once the buffer reaches the file, lost if it fails.
    private var buffered: Int64 = 0
    public private(set) var summary: Summary

    /// Creates the file (mode 0640) for frames of `linkType` cut at `snapLength`.
    public init(path: String, linkType: LinkType, snapLength: Int32) throws(CaptureError) {
        writer = try CaptureFileWriter(
            path: path, linkType: linkType, format: .pcapng, snapLength: UInt32(clamping: max(snapLength, 1)), mode: 0o640)
        summary = Summary(path: path, linkType: linkType)
        decoder = PacketDecoder(linkType: linkType)
    }

    /// Appends one frame; never throws: a failure is counted and ends the copy.
    public func copy(_ frame: UnsafeRawBufferPointer, linkType: LinkType, wireLength: Int, timestamp: Int64) {
        guard let writer else {
            summary.framesNotWritten += 1
            return
        }
        // A pcapng file libpcap reads holds one link type; `run` captures on one handle (`any`, or
        // the namespace's `lo`), so a second link type means interfaces chosen by hand.
        guard linkType == summary.linkType else {
            summary.framesNotWritten += 1
            if summary.problem == nil { summary.problem = "frames of link type \(linkType) (the file holds \(summary.linkType))" }
            return
        }
        // Headers only: up to the transport payload when the frame decodes to one.
        var kept = frame.count
        if let packet = try? decoder.decode(frame, wireLength: wireLength), packet.payloadOffset >= 0 {
            kept = min(packet.payloadOffset, frame.count)
        }
        do {
            try writer.write(UnsafeRawBufferPointer(rebasing: frame[0..<kept]), timestamp: timestamp, wireLength: wireLength)
            buffered += 1
            if writer.bufferedBytes == 0 {
                summary.framesWritten += buffered
                buffered = 0
            }
        } catch {
            // The failed write's buffer holds this frame and those before it since the last write
            // (part of it may have reached the file, up to a cut frame that a reader calls truncation).
            summary.framesNotWritten += buffered + 1
            buffered = 0
            summary.problem = error.description
            try? writer.close()
            self.writer = nil
        }
    }

    /// Writes what is buffered and closes the file; the summary is final from here on.
    @discardableResult
    public func close() -> Summary {
        if let writer {
            do {
                try writer.close()
                summary.framesWritten += buffered
            } catch {
                summary.framesNotWritten += buffered
                summary.problem = summary.problem ?? error.description
            }
            buffered = 0
            self.writer = nil
        }
        return summary
    }
}
