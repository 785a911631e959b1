//! MIME parsing of office-shaped mail (MB/s): a plain note, a reply with a
//! quoted thread, an invitation, and a message with a PDF attachment, each
//! fully parsed and summarised the way delivery does.
//!
//! `cargo bench -p guss-mail --bench mime`
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> Vec<Vec<u8>> {
    let head = |subject: &str, extra: &str| {
        format!(
            "Return-Path: <ben@praxis.example>\r\nReceived: from mx.praxis.example ([192.0.2.7])\r\n\tby mail.kanzlei.example (guss) with ESMTPS;\r\n\tSat, 28 Nov 2026 09:00:00 +0000\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=praxis.example; s=sel;\r\n\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSBsZW5ndGggb2Ygb25l\r\n\
From: Ben Becker <ben@praxis.example>\r\nTo: Anna Schmidt <anna@kanzlei.example>\r\nSubject: {subject}\r\n\
Date: Sat, 28 Nov 2026 09:00:00 +0100\r\nMessage-ID: <{subject}@praxis.example>\r\nMIME-Version: 1.0\r\n{extra}"
        )
    };
    let note = format!("{}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}", head("Termin", ""), "Guten Morgen Frau Schmidt,\r\nkönnen wir den Termin am Dienstag auf 10 Uhr verschieben?\r\n".repeat(20));
    let reply = format!(
        "{}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
        head("Re: Akte 17", "In-Reply-To: <akte17@kanzlei.example>\r\nReferences: <a@k.example> <b@k.example> <akte17@kanzlei.example>\r\n"),
        "> Sehr geehrte Damen und Herren, anbei die Unterlagen zur Akte 17 mit der Bitte um R=C3=BCckmeldung.\r\n".repeat(200)
    );
    let invitation = format!(
        "{}Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nEinladung: Mandantengespräch\r\n--b1\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:1@praxis.example\r\nDTSTART:20301202T090000Z\r\nDTEND:20301202T100000Z\r\nSUMMARY:Mandantengespräch\r\nORGANIZER:mailto:ben@praxis.example\r\nATTENDEE:mailto:anna@kanzlei.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--b1--\r\n",
        head("Einladung", "")
    );
    let pdf: String = (0..2000).map(|i| format!("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+{i:04}\r\n")).collect();
    let attachment = format!(
        "{}Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei der Schriftsatz.\r\n--b2\r\nContent-Type: application/pdf; name=\"Schriftsatz.pdf\"\r\nContent-Disposition: attachment; filename=\"Schriftsatz.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{pdf}--b2--\r\n",
        head("Schriftsatz", "")
    );
    vec![
        note.into_bytes(),
        reply.into_bytes(),
        invitation.into_bytes(),
        attachment.into_bytes(),
    ]
}

fn mime(c: &mut Criterion) {
    let corpus = corpus();
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("mime");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            for raw in &corpus {
                let message = mail_parser::MessageParser::default().parse(raw).unwrap();
                std::hint::black_box(message.parts.len());
            }
        })
    });
    group.bench_function("summarize", |b| {
        b.iter(|| {
            for raw in &corpus {
                std::hint::black_box(guss_mail::message::summarize(raw));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, mime);
criterion_main!(benches);
