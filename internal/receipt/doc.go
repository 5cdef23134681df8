// Package receipt reads one payment email (an RFC 5322 message) and says
// whether it is a card charge for a watched LLM provider, a refund, a failed
// payment, or nothing guardd needs.
//
// # What is read
//
// The MIME tree (multipart/alternative and mixed, quoted-printable and
// base64, any charset golang.org/x/text knows; an unknown charset is read as
// it is), the text/plain and text/html parts (HTML rendered to lines: table
// cells, blocks and <br> end a line; scripts, styles and the head are
// dropped), the From, To, Subject, Date and Message-ID headers, and one
// level of forwarding: a message/rfc822 attachment, or an inline block under
// "---------- Forwarded message ---------", "Begin forwarded message:",
// "----- Original message -----" and the like, whose From/Date/Subject/To
// lines then stand for the original's header.
//
// Every text rendition (the text part, the HTML part) is read on its own and
// they must agree. Figures are cross-checked: the head amount, "Amount paid"
// and "Total" must be equal, "Total excluding tax" plus the tax lines must
// make the total, one currency per receipt. Anything uncertain (no amount,
// two different amounts, an unknown currency symbol, ¥ without an ISO code,
// a decimal comma) makes the message KindUnreadable with an error saying
// why: never a guessed charge, never a zero. Amounts may group thousands
// ("$1,250.00"); "40. 66", seen once in an HTML-to-text copy, is read as
// 40.66 because the cross-checks catch a wrong join.
//
// # What is kept
//
// Only extracted fields (Result): never the body. No Result field and no
// error holds more of a card number than its last four digits; any run of 13
// or more digits is removed from what leaves the package. The sender is
// taken from the From header as written: this package checks no DKIM
// signature, so a caller that reads mailboxes others can write to must
// check it, and must decide whether to trust a forward (Result.Forwarded).
//
// # Layouts, and how sure we are of them
//
// Confirmed from public sources (provider help pages and real mail copied
// into public tests): Anthropic's Stripe paid-invoice receipt from
// invoice+statements@mail.anthropic.com, its refund ("Refund from ...
// Refunded on"), its failed-payment notice (amount only in the subject), and
// OpenAI's "Your OpenAI API account has been funded" notice (no receipt
// number, no date in the body, no auto-recharge wording; the instant is the
// Date: header). Inferred from several agreeing public fixtures of
// unidentified origin: OpenRouter's Stripe charge receipt ("Your OpenRouter,
// Inc receipt [#NNNN-NNNN]", "Amount paid", "Date paid"). Inferred only: a
// Stripe receipt from OpenAI (no public copy was found), the HTML markup of
// every layout (the fixtures' HTML is written from the text renderings), A$
// and S$ symbols, forward headers of mail clients, and any auto-recharge
// wording in the OpenAI notice. DeepSeek sends no receipt that anyone has
// published: a receipt-like DeepSeek mail is KindUnreadable. docs/receipts.md
// lists each layout with its sources.
package receipt
