;; Relaxed body canonicalization (RFC 6376 section 3.4.4) as a WebAssembly module.
;;
;; Why WebAssembly: this byte loop is the largest cost of a DKIM signature or verification after
;; the key operation. The same loop in JavaScript ran at about 2.4 ns per byte of a text body;
;; this module at about 0.9 ns, and at 0.15 ns on base64 lines (bench/results/dkim.md, runs 9-11).
;; It is memory-safe like the JavaScript it replaces: it can only touch its own two pages.
;;
;; Build: `npm run build:wasm` (wat2wasm from Debian's wabt). The binary relaxed-body.wasm is
;; committed next to this file; test/unit/dkim/relaxed-body-wasm.test.ts checks that it is what
;; this text assembles to.
;;
;; Use (src/dkim/canonical.ts): `begin`, then for each piece of the body: copy it to the input
;; area, `piece(length)`, and `relax` until `pending` is 0, hashing the `relax` result bytes of the
;; output area after each call; at the end `finish` says whether a last CRLF is owed.
;; A piece must not end in a CR whose LF starts the next piece (the caller cuts before the CR).
;;
;; Rules, as the JavaScript had them: spaces and tabs at a line's end vanish, runs of them inside
;; a line become one space, a line break is LF or CR LF and comes out as CR LF, a CR not followed
;; by LF is an ordinary byte, empty lines count only once content follows them (so those at the
;; end vanish), and the last line gets a CR LF even when the body lacks one.
(module
  (memory (export "memory") 2)
  (global (export "input_offset") i32 (i32.const 0))
  (global (export "input_capacity") i32 (i32.const 32768))
  (global (export "output_offset") i32 (i32.const 32768))
  ;; relax returns before the output passes this point, which leaves room below the end of memory
  ;; (131072) for the largest step: a space and a byte, CR LF, or 16 bytes of a printable run.
  (global $output_limit i32 (i32.const 131040))

  ;; The state between calls: where in the piece, where it ends, and the line so far.
  (global $pos (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  (global $pending_space (mut i32) (i32.const 0))
  (global $pending_empty_lines (mut i32) (i32.const 0))
  (global $line_has_content (mut i32) (i32.const 0))

  (func (export "begin")
    (global.set $pos (i32.const 0))
    (global.set $end (i32.const 0))
    (global.set $pending_space (i32.const 0))
    (global.set $pending_empty_lines (i32.const 0))
    (global.set $line_has_content (i32.const 0)))

  ;; The next `length` bytes of the body are at input_offset.
  (func (export "piece") (param $length i32)
    (global.set $pos (i32.const 0))
    (global.set $end (local.get $length)))

  ;; 1 while part of the piece is left for another `relax` (the output area filled up first).
  (func (export "pending") (result i32)
    (i32.lt_s (global.get $pos) (global.get $end)))

  ;; 1 when the body's last line had content and so is owed its CR LF; resets the state.
  (func (export "finish") (result i32)
    (local $owed i32)
    (local.set $owed (global.get $line_has_content))
    (global.set $line_has_content (i32.const 0))
    (global.set $pending_space (i32.const 0))
    (global.set $pending_empty_lines (i32.const 0))
    (local.get $owed))

  ;; Canonicalizes from the current position; returns how many bytes it wrote at output_offset.
  (func (export "relax") (result i32)
    (local $i i32) (local $end i32) (local $byte i32) (local $used i32) (local $stop i32)
    (local $space i32) (local $empty i32) (local $content i32) (local $chunk v128) (local $stops i32) (local $short_end i32)
    (local.set $i (global.get $pos))
    (local.set $end (global.get $end))
    (local.set $space (global.get $pending_space))
    (local.set $empty (global.get $pending_empty_lines))
    (local.set $content (global.get $line_has_content))
    (local.set $used (i32.const 32768))
    (block $full
      (loop $next
        (br_if $full (i32.ge_s (local.get $i) (local.get $end)))
        (br_if $full (i32.ge_s (local.get $used) (global.get $output_limit)))
        (local.set $byte (i32.load8_u (local.get $i)))
        (block $line_break
          (block $blank
            (block $content_byte
              ;; Printable bytes are nearly all of a body: one comparison settles them.
              (br_if $content_byte (i32.gt_u (local.get $byte) (i32.const 32)))
              (br_if $blank (i32.eq (local.get $byte) (i32.const 32)))
              (br_if $blank (i32.eq (local.get $byte) (i32.const 9)))
              (br_if $line_break (i32.eq (local.get $byte) (i32.const 10)))
              (br_if $content_byte (i32.ne (local.get $byte) (i32.const 13)))
              (br_if $content_byte (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $end)))
              (br_if $content_byte (i32.ne (i32.load8_u offset=1 (local.get $i)) (i32.const 10)))
              ;; CR LF: step onto the LF.
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $line_break))
            ;; Content: the empty lines before it first, then a space owed, then the byte.
            (if (i32.eqz (local.get $content))
              (then
                (block $flushed
                  (loop $flush
                    (br_if $flushed (i32.eqz (local.get $empty)))
                    ;; Out of room: return without taking the byte; the next call goes on here.
                    (br_if $full (i32.ge_s (local.get $used) (global.get $output_limit)))
                    (i32.store16 (local.get $used) (i32.const 0x0a0d))
                    (local.set $used (i32.add (local.get $used) (i32.const 2)))
                    (local.set $empty (i32.sub (local.get $empty) (i32.const 1)))
                    (br $flush)))
                (local.set $content (i32.const 1))))
            (if (local.get $space)
              (then
                (i32.store8 (local.get $used) (i32.const 32))
                (local.set $used (i32.add (local.get $used) (i32.const 1)))
                (local.set $space (i32.const 0))))
            (i32.store8 (local.get $used) (local.get $byte))
            (local.set $used (i32.add (local.get $used) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            ;; The rest of a run of printable bytes, stopping where the room ends. Past its first
            ;; 8 bytes, 16 at a time while 16 are left (all 16 are stored, only the printable
            ;; ones counted; the room check keeps 16 bytes free), then byte by byte.
            (local.set $stop (i32.add (local.get $i) (i32.sub (global.get $output_limit) (local.get $used))))
            (if (i32.gt_s (local.get $stop) (local.get $end)) (then (local.set $stop (local.get $end))))
            (block $run_end
              ;; Words are short: the first bytes one by one, the vector loop only for longer runs.
              (local.set $short_end (i32.add (local.get $i) (i32.const 8)))
              (if (i32.gt_s (local.get $short_end) (local.get $stop)) (then (local.set $short_end (local.get $stop))))
              (loop $short
                (if (i32.lt_s (local.get $i) (local.get $short_end))
                  (then
                    (local.set $byte (i32.load8_u (local.get $i)))
                    (br_if $run_end (i32.le_u (local.get $byte) (i32.const 32)))
                    (i32.store8 (local.get $used) (local.get $byte))
                    (local.set $used (i32.add (local.get $used) (i32.const 1)))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $short))))
              (loop $run
                (if (i32.le_s (i32.add (local.get $i) (i32.const 16)) (local.get $stop))
                  (then
                    (local.set $chunk (v128.load (local.get $i)))
                    (v128.store (local.get $used) (local.get $chunk))
                    (local.set $stops
                      (i8x16.bitmask (i8x16.le_u (local.get $chunk) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))))
                    (if (i32.eqz (local.get $stops))
                      (then
                        (local.set $i (i32.add (local.get $i) (i32.const 16)))
                        (local.set $used (i32.add (local.get $used) (i32.const 16)))
                        (br $run)))
                    (local.set $stops (i32.ctz (local.get $stops)))
                    (local.set $i (i32.add (local.get $i) (local.get $stops)))
                    (local.set $used (i32.add (local.get $used) (local.get $stops)))
                    (br $run_end)))
                (br_if $run_end (i32.ge_s (local.get $i) (local.get $stop)))
                (local.set $byte (i32.load8_u (local.get $i)))
                (br_if $run_end (i32.le_u (local.get $byte) (i32.const 32)))
                (i32.store8 (local.get $used) (local.get $byte))
                (local.set $used (i32.add (local.get $used) (i32.const 1)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $run)))
            (br $next))
          ;; A space or tab: owed as one space if content follows on this line.
          (local.set $space (i32.const 1))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next))
        ;; A line break ($i is on its LF): CR LF after content, otherwise one more empty line.
        (if (local.get $content)
          (then
            (i32.store16 (local.get $used) (i32.const 0x0a0d))
            (local.set $used (i32.add (local.get $used) (i32.const 2))))
          (else (local.set $empty (i32.add (local.get $empty) (i32.const 1)))))
        (local.set $content (i32.const 0))
        (local.set $space (i32.const 0))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $pos (local.get $i))
    (global.set $pending_space (local.get $space))
    (global.set $pending_empty_lines (local.get $empty))
    (global.set $line_has_content (local.get $content))
    (i32.sub (local.get $used) (i32.const 32768)))
)
