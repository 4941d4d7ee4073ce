// Original prose in the register of the clinical and banking documents slimtune is meant for
// (no real person or institution is described): the training text of the llama.cpp export tests.
#pragma once

namespace slimtune::train {

inline constexpr const char* kSampleProse =
    R"(The ward round starts at eight. The nurse in charge reads out each bed in turn: the patient's age, the reason for admission, the observations overnight and any change in medication. The doctor listens, examines the patient, and writes a short plan in the notes. A plan says what will be done today, who will do it, and what would make the team change course.
Blood pressure is measured twice, a few minutes apart, with the patient seated and the arm supported at the level of the heart. If the two readings differ by more than ten points, a third is taken and the last two are averaged. A single high reading is not a diagnosis; it is a reason to measure again.
Discharge letters follow one pattern. They name the diagnosis, the treatment given, the medicines to continue and the medicines stopped, and the follow-up arranged. They end with clear advice on when to seek help: fever, new pain, breathlessness, or any bleeding.
At the bank, a transfer above the daily limit is held for review. The reviewer checks the account history, the payee, and whether the customer has made similar payments before. If anything looks unusual, the customer is called on the number held on file, never on a number given in the request itself.
A loan application is scored on income, existing debt and the repayment history of the last three years. The decision letter states the outcome and the main reasons for it, so that the customer can correct an error or ask for a second review.
Every record that leaves the building is checked for names, addresses, account numbers and dates of birth. What is not needed for the purpose is removed; what is needed is kept to the minimum, and the reason is written down.
Good notes are short, dated and signed. They say what was seen, what was done, and what should happen next. They are written for the colleague who will read them at three in the morning, tired, with no one else to ask.
)";

} // namespace slimtune::train
