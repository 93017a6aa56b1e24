//! Thompson sampling: draw a success probability from each candidate's Beta posterior and
//! take the highest draw. Executors with a good record win most draws; executors with few
//! runs have wide posteriors and still win now and then, so they keep being tried.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Beta, Distribution};

use crate::model::{CandidateDraw, ChosenBy, RoutingChoice, TaskType};

/// The sampler's random source: seeded for repeatable choices, or from the OS.
#[derive(Debug)]
pub struct Sampler {
    rng: StdRng,
}

impl Sampler {
    /// A sampler seeded with `seed`; 0 takes a fresh seed from the operating system.
    pub fn new(seed: u64) -> Self {
        let rng = if seed == 0 {
            StdRng::from_os_rng()
        } else {
            StdRng::seed_from_u64(seed)
        };
        Self { rng }
    }

    /// Chooses among `candidates` (executor name and posterior (α, β), in routing order) by
    /// Thompson sampling; a tie goes to the earlier candidate. One candidate is chosen without
    /// a draw. `None` when there is no candidate.
    pub fn choose(
        &mut self,
        task_type: TaskType,
        candidates: &[(String, (f64, f64))],
    ) -> Option<RoutingChoice> {
        if candidates.len() == 1 {
            return Some(unsampled(task_type, candidates, ChosenBy::OnlyCandidate));
        }
        let draws: Vec<CandidateDraw> = candidates
            .iter()
            .map(|(name, (a, b))| CandidateDraw {
                executor: name.clone(),
                alpha: *a,
                beta: *b,
                // α, β ≥ 1 always; a bad pair (a corrupt record) draws its mean instead.
                sample: Some(
                    Beta::new(*a, *b).map_or(*a / (*a + *b), |beta| beta.sample(&mut self.rng)),
                ),
            })
            .collect();
        let mut best: Option<&CandidateDraw> = None;
        for d in &draws {
            if best.is_none_or(|b| d.sample > b.sample) {
                best = Some(d);
            }
        }
        let chosen = best?.executor.clone();
        Some(RoutingChoice {
            task_type,
            by: ChosenBy::Sampling,
            candidates: draws,
            chosen,
        })
    }
}

/// The first routed candidate, as bosun chooses with process memory off.
pub fn first_routed(
    task_type: TaskType,
    candidates: &[(String, (f64, f64))],
) -> Option<RoutingChoice> {
    (!candidates.is_empty()).then(|| unsampled(task_type, candidates, ChosenBy::FirstRouted))
}

fn unsampled(
    task_type: TaskType,
    candidates: &[(String, (f64, f64))],
    by: ChosenBy,
) -> RoutingChoice {
    RoutingChoice {
        task_type,
        by,
        candidates: candidates
            .iter()
            .map(|(name, (a, b))| CandidateDraw {
                executor: name.clone(),
                alpha: *a,
                beta: *b,
                sample: None,
            })
            .collect(),
        chosen: candidates[0].0.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(list: &[(&str, f64, f64)]) -> Vec<(String, (f64, f64))> {
        list.iter()
            .map(|(n, a, b)| ((*n).to_string(), (*a, *b)))
            .collect()
    }

    #[test]
    fn a_fixed_seed_repeats_its_choices() {
        let c = cands(&[("a", 1.0, 1.0), ("b", 1.0, 1.0), ("c", 1.0, 1.0)]);
        let picks = |seed| {
            let mut s = Sampler::new(seed);
            (0..40)
                .map(|_| s.choose(TaskType::Code, &c).unwrap().chosen)
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(7), picks(7));
        assert_ne!(picks(7), picks(8), "different seeds, different draws");
        // With no record, every candidate gets its turn.
        let seven = picks(7);
        for name in ["a", "b", "c"] {
            assert!(seven.iter().any(|p| p == name), "{name} never chosen");
        }
    }

    #[test]
    fn the_better_record_wins_most_draws_and_every_draw_is_kept() {
        let c = cands(&[("weak", 2.0, 9.0), ("strong", 9.0, 2.0)]);
        let mut s = Sampler::new(42);
        let mut strong = 0;
        for _ in 0..200 {
            let choice = s.choose(TaskType::Docs, &c).unwrap();
            assert_eq!(choice.by, ChosenBy::Sampling);
            assert_eq!(choice.task_type, TaskType::Docs);
            assert_eq!(choice.candidates.len(), 2);
            let best = choice
                .candidates
                .iter()
                .max_by(|a, b| a.sample.partial_cmp(&b.sample).unwrap())
                .unwrap();
            assert_eq!(best.executor, choice.chosen);
            for d in &choice.candidates {
                let p = d.sample.expect("sampled");
                assert!((0.0..=1.0).contains(&p), "{p}");
            }
            assert_eq!(
                (choice.candidates[1].alpha, choice.candidates[1].beta),
                (9.0, 2.0)
            );
            strong += usize::from(choice.chosen == "strong");
        }
        assert!(strong > 180, "strong chosen {strong} times of 200");
    }

    #[test]
    fn one_candidate_is_not_sampled_and_memory_off_takes_the_first() {
        let one = cands(&[("only", 3.0, 1.0)]);
        let choice = Sampler::new(1).choose(TaskType::Code, &one).unwrap();
        assert_eq!(choice.by, ChosenBy::OnlyCandidate);
        assert_eq!(choice.chosen, "only");
        assert_eq!(choice.candidates[0].sample, None);
        assert_eq!(Sampler::new(1).choose(TaskType::Code, &[]), None);

        let two = cands(&[("first", 1.0, 50.0), ("second", 50.0, 1.0)]);
        let choice = first_routed(TaskType::Code, &two).unwrap();
        assert_eq!(choice.by, ChosenBy::FirstRouted);
        assert_eq!(choice.chosen, "first");
        assert!(choice.candidates.iter().all(|d| d.sample.is_none()));
        assert_eq!(first_routed(TaskType::Code, &[]), None);
    }
}
