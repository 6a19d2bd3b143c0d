//! The scenarios, each written once for any backend. A scenario counts
//! gatekeeper's writes three ways where it can: the `applied` decision
//! lines of each run, the rows of the decision log, and the backend's own
//! count (the fake's) or the copies' unchanged state.

use crate::world::*;

/// Every member's copy of every invite, as `copy_state` shows it.
fn states<W: World>(w: &W, ms: &[String], ids: &[Id]) -> Vec<String> {
    ms.iter()
        .flat_map(|m| ids.iter().map(move |id| w.copy_state(m, id)))
        .collect()
}

/// A run after nothing changed decides nothing and changes no copy.
#[track_caller]
fn assert_settled<W: World>(w: &W, ms: &[String], ids: &[Id]) {
    let before = states(w, ms, ids);
    let writes = w.writes_landed();
    run(w).assert_quiet();
    assert_eq!(states(w, ms, ids), before, "no copy changed");
    assert_eq!(w.writes_landed(), writes, "nothing was written");
}

#[track_caller]
fn assert_writes<W: World>(w: &W, expected: u64) {
    if let Some(n) = w.writes_landed() {
        assert_eq!(
            n, expected,
            "writes that landed, as the backend counts them"
        );
    }
}

/// 1. A new invite without an agenda is declined for every member, with
///    the comment the organizer reads; one with an agenda is left alone.
pub fn a_new_invite_that_breaks_the_policy_is_declined_with_the_rules_comment<W: World>() {
    let ms = members(2);
    let mut w = W::new(&ms, "decline");
    let bad = w.add_invite(&Invite::new("bad", "", &ms));
    let good = w.add_invite(&Invite::new("good", AGENDA, &ms));

    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 2, "{}", r.out);
    assert_writes(&w, 2);
    let rows = log(&w);
    for m in &ms {
        assert_eq!(w.partstat_of(m, &bad), DECLINED, "{m}");
        let comment = w
            .comment_of(m, &bad)
            .unwrap_or_else(|| panic!("{m}: no comment on the decline"));
        assert!(comment.contains(NO_AGENDA), "{m}: {comment}");
        // The same words on every backend.
        insta::assert_snapshot!(
            "declined_for_no_agenda",
            comment.replace(m.as_str(), "<member>")
        );
        let decided = rows_for(&rows, &bad, m);
        assert_eq!(decided.len(), 1, "{m}: {decided:#?}");
        assert_eq!(
            (decided[0].outcome.as_str(), decided[0].response.as_deref()),
            ("applied", Some(DECLINED))
        );

        assert_eq!(w.partstat_of(m, &good), NEEDS_ACTION, "{m}");
        assert_eq!(w.comment_of(m, &good), None, "{m}");
        assert!(
            rows_for(&rows, &good, m)
                .iter()
                .all(|r| r.outcome != "applied"),
            "{rows:#?}"
        );
    }
    assert_settled(&w, &ms, &[bad.clone(), good.clone()]);

    // Each decline reaches the colleague's copy, where nothing says it was
    // gatekeeper's: the copies changed, the invite did not, so nothing is
    // decided or written again.
    let before = states(&w, &ms, std::slice::from_ref(&bad));
    w.pass_answers_on(&bad);
    if w.writes_landed().is_none() {
        // Where the test passes answers on, the copies really changed.
        assert_ne!(states(&w, &ms, std::slice::from_ref(&bad)), before);
    }
    let r = run(&w);
    r.assert_quiet();
    assert_writes(&w, 2);
    for m in &ms {
        assert_eq!(w.partstat_of(m, &bad), DECLINED, "{m}");
    }
    assert_settled(&w, &ms, &[bad, good]);
}

/// 2. The organizer adds an agenda: the decline is taken back (the answer
///    is NEEDS-ACTION again and gatekeeper's comment is gone), once.
pub fn the_organizer_fixes_the_invite_and_the_decline_is_taken_back<W: World>() {
    let ms = members(2);
    let mut w = W::new(&ms, "decline");
    let id = w.add_invite(&Invite::new("fixme", "", &ms));
    run(&w).assert_ok();
    for m in &ms {
        assert_eq!(w.partstat_of(m, &id), DECLINED, "{m}");
    }

    w.edit_description(&id, AGENDA);
    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 2, "{}", r.out);
    assert_eq!(r.out.matches("→ NEEDS-ACTION").count(), 2, "{}", r.out);
    assert_writes(&w, 4);
    for m in &ms {
        assert_eq!(w.partstat_of(m, &id), NEEDS_ACTION, "{m}");
        assert_eq!(w.comment_of(m, &id), None, "{m}: the comment is removed");
    }
    assert_settled(&w, &ms, &[id]);
}

/// 3. A member who answered before gatekeeper, and one who answers after
///    gatekeeper's decline, keep their answers through the organizer's
///    later edits: gatekeeper writes nothing over them, and never twice.
pub fn a_members_own_answer_before_and_after_gatekeepers_is_kept<W: World>() {
    let ms = members(2);
    let (early, late) = (&ms[0], &ms[1]);
    let mut w = W::new(&ms, "decline");
    let id = w.add_invite(&Invite::new("own", "", &ms));
    w.member_answers(early, &id, ACCEPTED);

    let r = run(&w);
    r.assert_ok();
    assert_eq!(w.partstat_of(early, &id), ACCEPTED);
    assert_eq!(w.comment_of(early, &id), None);
    assert!(
        rows_for(&log(&w), &id, early).is_empty(),
        "an answer the member gave first is not even decided on"
    );
    assert_eq!(w.partstat_of(late, &id), DECLINED);
    assert_eq!(r.applied(), 1, "{}", r.out);

    // The late member accepts after gatekeeper declined for them.
    w.member_answers(late, &id, ACCEPTED);
    // The organizer edits the invite, still without an agenda worth the
    // name: both copies change, both answers stand.
    w.edit_description(&id, "Quick one");
    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 0, "{}", r.out);
    assert_eq!(w.partstat_of(early, &id), ACCEPTED);
    assert_eq!(w.partstat_of(late, &id), ACCEPTED);

    // Now with an agenda: nothing of gatekeeper's to take back either.
    w.edit_description(&id, AGENDA);
    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 0, "{}", r.out);
    assert_eq!(w.partstat_of(early, &id), ACCEPTED);
    assert_eq!(w.partstat_of(late, &id), ACCEPTED);
    assert_writes(&w, 1);
    let rows = log(&w);
    assert!(
        rows_for(&rows, &id, early)
            .iter()
            .all(|r| r.outcome != "applied"),
        "{rows:#?}"
    );
    assert_eq!(
        rows_for(&rows, &id, late)
            .iter()
            .filter(|r| r.outcome == "applied")
            .count(),
        1,
        "{rows:#?}"
    );
    assert_settled(&w, &ms, &[id]);
}

/// 4. gatekeeper has read two invites and decided them; while it writes
///    the first answer, the member accepts the second in their app. The
///    write gatekeeper then makes on the second (conditional on the version
///    it read) is refused; it reads again, decides again, and the member's
///    answer stands.
pub fn a_member_answering_during_gatekeepers_write_keeps_their_answer<W: World>() {
    let ms = members(1);
    let m = &ms[0];
    let mut w = W::new(&ms, "decline");
    let ids = w.add_invites_read_together(&[
        Invite::new("race-a", "", &ms),
        Invite::new("race-b", "", &ms),
    ]);

    let (raced, other) = w.run_with_member_answering_during_write(m, &ids, ACCEPTED);
    let first = ids.iter().find(|i| **i != other).unwrap().clone();
    // Google decides a refused write again in the same pass; local folders
    // count it as a failed write (exit 6) and the next pass reads again.
    assert!(matches!(raced.code, 0 | 6), "{}\n{}", raced.out, raced.err);
    assert_eq!(raced.applied(), 1, "only the first landed:\n{}", raced.out);
    let next = run(&w);
    next.assert_ok();
    assert_eq!(next.applied(), 0, "{}", next.out);

    assert_eq!(
        w.partstat_of(m, &other),
        ACCEPTED,
        "the member's answer stands"
    );
    assert_eq!(
        w.comment_of(m, &other),
        None,
        "and carries no comment of ours"
    );
    assert_eq!(w.partstat_of(m, &first), DECLINED);
    assert_writes(&w, 1);
    let rows = log(&w);
    let of_first = rows_for(&rows, &first, m);
    assert_eq!(of_first.len(), 1, "{rows:#?}");
    assert_eq!(of_first[0].outcome, "applied");
    // A row at all says the race was real: gatekeeper decided on the
    // version it read before the member's answer (an answer it had seen
    // in time is not even decided on, as scenario 3 shows), and its write
    // was refused.
    let of_other = rows_for(&rows, &other, m);
    assert_eq!(of_other.len(), 1, "one row, settled: {rows:#?}");
    assert!(
        !["applied", "pending", "failed"].contains(&of_other[0].outcome.as_str()),
        "{rows:#?}"
    );
    assert_settled(&w, &ms, &ids);
}

/// 5. A run killed right after its first decision (SIGKILL, in the middle
///    of the sync: nothing after it written, no cursor moved past it) is
///    finished by the next run: every invite decided once per member, the
///    first not again.
pub fn a_run_killed_mid_sync_is_finished_by_the_next_without_answering_twice<W: World>() {
    let ms = members(4);
    let mut w = W::new(&ms, "decline");
    let ids: Vec<Id> = (0..5)
        .map(|i| w.add_invite(&Invite::new(&format!("k{i}"), "", &ms)))
        .collect();
    let total = ms.len() * ids.len();

    let stalled = Stalled::start(&w);
    stalled.kill();
    let before = log(&w);
    assert!(
        !before.is_empty() && before.len() < total,
        "killed mid-sync: {} of {total} decided",
        before.len()
    );

    let r = run(&w);
    r.assert_ok();
    assert_eq!(
        r.applied() + before.iter().filter(|r| r.outcome == "applied").count(),
        total,
        "{}",
        r.out
    );
    let rows = log(&w);
    for m in &ms {
        for id in &ids {
            let decided = rows_for(&rows, id, m);
            assert_eq!(decided.len(), 1, "{m} {id:?}: {decided:#?}");
            assert_eq!(decided[0].outcome, "applied", "{m} {id:?}");
            assert_eq!(w.partstat_of(m, id), DECLINED, "{m} {id:?}");
            assert!(w.comment_of(m, id).is_some_and(|c| c.contains(NO_AGENDA)));
        }
    }
    assert_writes(&w, total as u64);
    assert_settled(&w, &ms, &ids);
}

/// 6. One team softens its rule (decline → annotate): its members' copies
///    are screened again and each decline becomes a tentative, one write
///    per copy; the other team's copies are not touched, and an invite
///    nothing changed for is not either.
pub fn a_policy_edit_rescreens_the_team_with_one_write_per_copy<W: World>() {
    let ms = members(4);
    let (soft, firm) = ms.split_at(2);
    let mut w = W::new(&ms, "decline");
    // Two teams from the start: `s` (m0, m1) and `u` (m2, m3).
    w.set_policy(TEAM, soft, "decline");
    w.set_policy("u", firm, "decline");
    let bad = w.add_invite(&Invite::new("soften", "", &ms));
    let good = w.add_invite(&Invite::new("fine", AGENDA, &ms));
    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 4, "{}", r.out);
    // Every copy as it stands, once the declines are passed on.
    w.pass_answers_on(&bad);
    run(&w).assert_quiet();
    let untouched = |w: &W| {
        let mut s = states(w, firm, &[bad.clone(), good.clone()]);
        s.extend(states(w, soft, std::slice::from_ref(&good)));
        s
    };
    let before = untouched(&w);
    let writes = w.writes_landed();

    w.set_policy(TEAM, soft, "annotate");
    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 2, "{}", r.out);
    assert_eq!(r.out.matches("→ TENTATIVE").count(), 2, "{}", r.out);
    for m in firm {
        assert!(
            !r.out.contains(m.as_str()),
            "team u is not re-screened:\n{}",
            r.out
        );
    }
    if let Some(n) = writes {
        assert_writes(&w, n + 2);
    }
    for m in soft {
        assert_eq!(w.partstat_of(m, &bad), TENTATIVE, "{m}");
        assert!(
            w.comment_of(m, &bad).is_some_and(|c| c.contains(NO_AGENDA)),
            "{m}: the comment still says why"
        );
    }
    for m in firm {
        assert_eq!(w.partstat_of(m, &bad), DECLINED, "{m}");
    }
    assert_eq!(untouched(&w), before, "nothing else was written");
    assert_settled(&w, &ms, &[bad, good]);
}

/// 7. One invite to twenty members: every member's copy decided once.
pub fn an_invite_to_twenty_members_is_decided_once_per_member<W: World>() {
    let ms = members(20);
    let mut w = W::new(&ms, "decline");
    let id = w.add_invite(&Invite::new("all-hands", "", &ms));
    let r = run(&w);
    r.assert_ok();
    assert_eq!(r.applied(), 20, "{}", r.out);
    assert_writes(&w, 20);
    let rows = log(&w);
    assert_eq!(rows.len(), 20, "{rows:#?}");
    for m in &ms {
        let decided = rows_for(&rows, &id, m);
        assert_eq!(decided.len(), 1, "{m}: {decided:#?}");
        assert_eq!(decided[0].outcome, "applied");
        assert_eq!(w.partstat_of(m, &id), DECLINED, "{m}");
        assert!(w.comment_of(m, &id).is_some_and(|c| c.contains(NO_AGENDA)));
    }
    assert_settled(&w, &ms, &[id]);
}
