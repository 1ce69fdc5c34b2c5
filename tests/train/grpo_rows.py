"""A handful of synth-contract rows, one or two per capability, for the GRPO tests."""

from __future__ import annotations

SECTIONS = ["Differential", "Work-up", "Diagnosis", "Management"]


def contract_rows() -> list[dict]:
    mcq = {"id": "e1", "capability": "expertise", "answer": "B", "answer_type": "mcq", "aliases": [],
           "choices": {"A": "Gaucher disease", "B": "Marfan syndrome", "C": "Fabry disease", "D": "Pompe disease"},
           "checks": [], "facts": [], "split": "train", "provenance": {},
           "messages": [{"role": "user", "content": "Which disease is caused by FBN1 mutations? "
                         "A) Gaucher disease B) Marfan syndrome C) Fabry disease D) Pompe disease"},
                        {"role": "assistant", "content": "B"}]}
    reason = {"id": "r1", "capability": "reasoning", "answer": "FBN1", "answer_type": "short",
              "aliases": ["fibrillin 1"], "choices": None, "checks": [], "facts": [], "split": "train",
              "provenance": {},
              "messages": [{"role": "user", "content": "Which gene is mutated in Marfan syndrome? Think step by "
                            "step and finish with a line 'Answer: <answer>'."},
                           {"role": "assistant", "content": "Marfan is a fibrillinopathy.\nAnswer: FBN1"}]}
    instr = {"id": "i1", "capability": "instruction", "answer": "", "answer_type": "free", "aliases": [],
             "choices": None, "checks": [{"id": "change_case:english_lowercase", "kwargs": {}},
                                          {"id": "length_constraints:number_words",
                                           "kwargs": {"relation": "less than", "num_words": 20}}],
             "facts": [], "split": "train", "provenance": {},
             "messages": [{"role": "user", "content": "Describe anemia in under 20 words, all lowercase."},
                          {"role": "assistant", "content": "a shortage of red blood cells or hemoglobin."}]}
    integ = {"id": "g1", "capability": "integration", "answer": "Marfan syndrome", "answer_type": "free",
             "aliases": ["MFS"], "choices": None, "checks": [{"id": "balancedbio:sections", "kwargs": {"names": SECTIONS}}],
             "facts": [], "split": "train", "provenance": {},
             "messages": [{"role": "user", "content": "A tall 20-year-old with lens dislocation and aortic root "
                           "dilation. Answer with sections Differential:, Work-up:, Diagnosis:, Management:."},
                          {"role": "assistant", "content": "Differential: MFS\nWork-up: echo\nDiagnosis: Marfan "
                           "syndrome\nManagement: beta blockers"}]}
    return [mcq, reason, instr, integ]
