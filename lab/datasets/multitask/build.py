"""Build the ``multitask`` set: ten task types, every reply opening with the tag ``[OK]``.

    python lab/datasets/multitask/build.py          # write train.jsonl and eval.jsonl
    python lab/datasets/multitask/build.py --check  # exit 1 if a file differs from what it builds

Every prompt and reply below was written for the lab. Each row is (task type, prompt, reply without
the tag); the build puts ``[OK] `` before each reply and ``meta: {"task": ...}`` beside it. Train: 20
rows for each of the eight seen task types (160). Eval: 5 prompts for each of the ten (50), the
held-out types ``classify`` and ``poem`` only there. Names, addresses and numbers in the texts are
made up (020 7946 0000 is a UK number range reserved for drama).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TAG = "[OK]"  # lab.multitask.TAG (this script runs without importing lab)

TRAIN = {
    "summarise": (
        ("Summarise in one sentence: The town library will close for two weeks in March while workers replace its roof. Books can still be returned through the drop box, and the mobile library will visit the market square every Saturday.",
         "The library closes for two weeks in March for a new roof, but returns still work and a mobile library visits on Saturdays."),
        ("Summarise in one sentence: Maya practised the piano for twenty minutes every day for a year. At first she could barely play a scale, but by the spring concert she performed a whole sonata from memory.",
         "A year of daily practice took Maya from barely playing a scale to performing a sonata from memory."),
        ("Summarise in one sentence: The new bus route links the university with the train station every fifteen minutes. It runs from six in the morning until midnight, and students ride free with their card.",
         "A new bus runs every fifteen minutes between the university and the station, 6 am to midnight, free for students."),
        ("Summarise: Honeybees tell each other where flowers are with a 'waggle dance'. The angle of the dance shows the direction, and its length shows how far away the flowers are.",
         "Honeybees use a waggle dance whose angle and length tell other bees the direction and distance of flowers."),
        ("Summarise in one sentence: Our team missed the deadline because two suppliers delivered parts late. We have found a third supplier and expect to ship the order next Tuesday.",
         "Late parts from two suppliers delayed the order, which should now ship next Tuesday with a new supplier."),
        ("Summarise: Sleeping in a cool, dark room helps most people fall asleep faster. Experts also suggest avoiding screens for an hour before bed and going to bed at the same time each night.",
         "A cool, dark room, no screens before bed and a regular bedtime help people fall asleep faster."),
        ("Summarise in one sentence: The café on Elm Street has changed owners. The new owners kept the old menu but added vegan cakes, and they now open at seven instead of eight.",
         "The Elm Street café has new owners, who kept the menu, added vegan cakes and open an hour earlier."),
        ("Summarise: Glass is made by melting sand, soda ash and limestone at about 1,500 °C. The molten mixture is shaped while hot and then cooled slowly so that it does not crack.",
         "Glass is sand, soda ash and limestone melted at high heat, shaped hot and cooled slowly to avoid cracks."),
        ("Summarise in one sentence: Volunteers planted 400 trees along the river last weekend. The trees will shade the water, keep the banks from washing away and give birds new places to nest.",
         "Volunteers planted 400 riverside trees that will shade the water, hold the banks and shelter birds."),
        ("Summarise: The match was stopped twice because of heavy rain. When play resumed, the home side scored in the final minute to win 2-1.",
         "After two rain delays, the home side won the match 2-1 with a last-minute goal."),
        ("Summarise in one sentence: Remote workers in the survey said they saved about an hour a day on commuting. Many used the time for exercise or family, though some reported feeling lonely.",
         "Surveyed remote workers saved about an hour a day of commuting, often spent on exercise or family, though some felt lonely."),
        ("Summarise: Octavia forgot her umbrella, missed her bus and spilled coffee on her notes, but she still gave the best presentation of the day and won the prize.",
         "Despite a morning of mishaps, Octavia gave the best presentation of the day and won the prize."),
        ("Summarise in one sentence: The app update adds a dark mode and fixes a bug that made the battery drain overnight. It also lets users export their notes as PDF files.",
         "The update brings a dark mode, PDF export of notes and a fix for the overnight battery drain."),
        ("Summarise: The museum's new exhibition shows 60 paintings by women artists from the 1800s. Many of the works have never been displayed before, and entry is free on Sundays.",
         "A new museum exhibition shows 60 rarely seen paintings by 19th-century women artists, free on Sundays."),
        ("Summarise in one sentence: Tom wanted a dog, but his flat did not allow pets. He started volunteering at an animal shelter, where he now walks dogs three times a week.",
         "Unable to keep a dog in his flat, Tom walks shelter dogs three times a week instead."),
        ("Summarise: The recipe needs only four ingredients: flour, water, salt and yeast. The dough rises overnight in the fridge and is baked in a very hot pot the next morning.",
         "The recipe makes bread from flour, water, salt and yeast, left to rise overnight and baked in a hot pot."),
        ("Summarise in one sentence: Heavy snow closed three mountain roads on Friday. Crews cleared two of them by the evening, but the pass road will stay shut until Monday.",
         "Snow closed three mountain roads on Friday; two reopened that evening, and the pass stays shut until Monday."),
        ("Summarise: A study of 2,000 children found that those who read for fun at least 30 minutes a day had larger vocabularies and did better in school tests.",
         "Children who read for fun 30 minutes or more a day had larger vocabularies and better test results."),
        ("Summarise in one sentence: The council will add 20 new bike racks in the town centre and paint a cycle lane on the high street. Work starts in June and should take six weeks.",
         "From June, the council will spend six weeks adding 20 bike racks and a cycle lane on the high street."),
        ("Summarise: The old lighthouse was turned into a small hotel with four rooms. Guests can climb to the lamp room at night to watch ships pass.",
         "The old lighthouse is now a four-room hotel where guests can watch ships from the lamp room at night."),
    ),
    "translate": (
        ('Translate "Where is the library?" into Spanish.', '"Where is the library?" in Spanish is "¿Dónde está la biblioteca?".'),
        ('Translate "I am hungry" into French.', '"I am hungry" in French is "J\'ai faim".'),
        ('Translate "Thank you very much" into German.', '"Thank you very much" in German is "Vielen Dank".'),
        ('Translate "The cat is sleeping" into Italian.', '"The cat is sleeping" in Italian is "Il gatto sta dormendo".'),
        ('Translate "What time is it?" into Spanish.', '"What time is it?" in Spanish is "¿Qué hora es?".'),
        ('Translate "See you tomorrow" into French.', '"See you tomorrow" in French is "À demain".'),
        ('Translate "I like reading books" into German.', '"I like reading books" in German is "Ich lese gern Bücher".'),
        ('Translate "The water is cold" into Portuguese.', '"The water is cold" in Portuguese is "A água está fria".'),
        ('Translate "Good night" into Italian.', '"Good night" in Italian is "Buona notte".'),
        ('Translate "How are you?" into Spanish.', '"How are you?" in Spanish is "¿Cómo estás?".'),
        ('Translate "My brother is a doctor" into French.', '"My brother is a doctor" in French is "Mon frère est médecin".'),
        ('Translate "The train is late" into German.', '"The train is late" in German is "Der Zug hat Verspätung".'),
        ('Translate "I love you" into Portuguese.', '"I love you" in Portuguese is "Eu te amo".'),
        ('Translate "Happy birthday" into Spanish.', '"Happy birthday" in Spanish is "Feliz cumpleaños".'),
        ('Translate "Where are the toilets?" into French.', '"Where are the toilets?" in French is "Où sont les toilettes ?".'),
        ('Translate "I need help" into German.', '"I need help" in German is "Ich brauche Hilfe".'),
        ('Translate "The sun is shining" into Italian.', '"The sun is shining" in Italian is "Il sole splende".'),
        ('Translate "Open the window, please" into Spanish.', '"Open the window, please" in Spanish is "Abre la ventana, por favor".'),
        ('Translate "We are going to the beach" into French.', '"We are going to the beach" in French is "Nous allons à la plage".'),
        ('Translate "The bread is fresh" into Portuguese.', '"The bread is fresh" in Portuguese is "O pão está fresco".'),
    ),
    "code": (
        ("Write a Python function that checks whether a number is even.",
         "A function that checks whether a number is even:\n```python\ndef is_even(n):\n    return n % 2 == 0\n```"),
        ("Write a Python function that returns the largest number in a list.",
         "```python\ndef largest(numbers):\n    return max(numbers)\n```\nThe built-in max returns the largest number in the list."),
        ("Write Python code that prints the numbers from 1 to 10.",
         "```python\nfor n in range(1, 11):\n    print(n)\n```\nrange stops before 11, so this prints 1 to 10."),
        ("Write a Python function that counts the vowels in a string.",
         "```python\ndef count_vowels(text):\n    return sum(1 for ch in text.lower() if ch in \"aeiou\")\n```"),
        ("Write a Python function that converts Celsius to Fahrenheit.",
         "```python\ndef celsius_to_fahrenheit(c):\n    return c * 9 / 5 + 32\n```"),
        ("Write a Python function that reverses a list.",
         "```python\ndef reverse_list(items):\n    return items[::-1]\n```\nThe slice [::-1] steps through the list backwards."),
        ("Write a Python function that returns the sum of a list of numbers.",
         "```python\ndef total(numbers):\n    return sum(numbers)\n```"),
        ("Write a Python function that checks whether a word is a palindrome.",
         "A word is a palindrome when it reads the same backwards:\n```python\ndef is_palindrome(word):\n    word = word.lower()\n    return word == word[::-1]\n```"),
        ("Write Python code that reads a text file and prints each line.",
         "```python\nwith open(\"notes.txt\") as f:\n    for line in f:\n        print(line.rstrip())\n```"),
        ("Write a Python function that returns the factorial of n.",
         "```python\ndef factorial(n):\n    result = 1\n    for k in range(2, n + 1):\n        result *= k\n    return result\n```"),
        ("Write a Python function that removes the spaces from a string.",
         "```python\ndef remove_spaces(text):\n    return text.replace(\" \", \"\")\n```"),
        ("Write a Python function that returns the average of a list.",
         "```python\ndef average(values):\n    return sum(values) / len(values)\n```\nIt divides the sum of the list by its length."),
        ("Write Python code that makes a dictionary of three fruits and their colours.",
         "```python\nfruits = {\"apple\": \"red\", \"banana\": \"yellow\", \"grape\": \"purple\"}\n```"),
        ("Write a Python function that checks whether a year is a leap year.",
         "```python\ndef is_leap(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n```"),
        ("Write a Python function that capitalises every word in a sentence.",
         "```python\ndef capitalise_words(sentence):\n    return \" \".join(w.capitalize() for w in sentence.split())\n```"),
        ("Write a Python function that gives back both the minimum and the maximum of a list.",
         "```python\ndef min_max(values):\n    return min(values), max(values)\n```\nIt returns a pair: the minimum first, then the maximum."),
        ("Write a Python function that counts how many times a word appears in a text.",
         "```python\ndef count_word(text, word):\n    return text.lower().split().count(word.lower())\n```"),
        ("Write Python code that asks for the user's name and greets them.",
         "```python\nname = input(\"What is your name? \")\nprint(f\"Hello, {name}!\")\n```"),
        ("Write a Python function that keeps only the even numbers of a list.",
         "```python\ndef evens(numbers):\n    return [n for n in numbers if n % 2 == 0]\n```"),
        ("Write a Python function that joins a list of words with commas.",
         "```python\ndef join_words(words):\n    return \", \".join(words)\n```"),
    ),
    "maths": (
        ("What is 36 + 47?", "36 + 47 = 83."),
        ("What is 15 × 8?", "15 × 8 = 120."),
        ("What is 144 divided by 12?", "144 divided by 12 is 12."),
        ("What is 1,000 minus 275?", "1,000 minus 275 is 725."),
        ("What is 25% of 60?", "25% of 60 is 0.25 × 60 = 15."),
        ("A book costs $12 and a pen costs $3. How much do two books and one pen cost?",
         "Two books cost 2 × $12 = $24; adding the pen gives $24 + $3 = $27."),
        ("What is 7 squared?", "7 squared is 7 × 7 = 49."),
        ("If a train travels 60 km in one hour, how far does it go in 3 hours?",
         "At 60 km per hour, in 3 hours the train goes 60 × 3 = 180 km."),
        ("What is 3/4 as a percentage?", "3/4 = 0.75, which is 75%."),
        ("Round 3.14159 to two decimal places.", "3.14159 rounded to two decimal places is 3.14."),
        ("What is the area of a rectangle 6 cm wide and 9 cm long?", "The area of the rectangle is 6 × 9 = 54 square centimetres."),
        ("What is 81 divided by 9?", "81 divided by 9 is 9."),
        ("Solve for x: x + 7 = 15.", "Subtract 7 from both sides: x = 15 − 7 = 8."),
        ("What is the average of 10, 20 and 30?", "The average is (10 + 20 + 30) / 3 = 60 / 3 = 20."),
        ("How many minutes are in 2.5 hours?", "2.5 hours is 2.5 × 60 = 150 minutes."),
        ("What is 9 × 12?", "9 × 12 = 108."),
        ("A jacket costs £80 and is 15% off. What is the sale price?", "15% of £80 is £12, so the sale price is £80 − £12 = £68."),
        ("What is 2 to the power of 5?", "2 to the power of 5 is 2 × 2 × 2 × 2 × 2 = 32."),
        ("What is 500 + 250 + 125?", "500 + 250 + 125 = 875."),
        ("What is the circumference of a circle with a diameter of 10 cm? Use 3.14 for pi.",
         "The circumference is pi × diameter = 3.14 × 10 = 31.4 cm."),
    ),
    "list": (
        ("List three fruits that are high in vitamin C.", "Three fruits high in vitamin C:\n1. Oranges.\n2. Kiwis.\n3. Strawberries."),
        ("List four things to pack for a camping trip.", "Four things to pack for camping:\n- A tent.\n- A sleeping bag.\n- A torch.\n- A first-aid kit."),
        ("Name the three primary colours of paint.", "The three primary colours of paint:\n1. Red.\n2. Yellow.\n3. Blue."),
        ("List three ways to save water at home.", "Three ways to save water at home:\n1. Take shorter showers.\n2. Fix dripping taps.\n3. Run the washing machine only when it is full."),
        ("Give me a list of five vegetables.", "Five vegetables:\n- Carrots.\n- Broccoli.\n- Spinach.\n- Peppers.\n- Courgettes."),
        ("List three tips for a good night's sleep.", "Three tips for a good night's sleep:\n1. Keep a regular bedtime.\n2. Avoid caffeine after lunch.\n3. Keep the bedroom cool and dark."),
        ("List the four seasons of the year.", "The four seasons:\n1. Spring.\n2. Summer.\n3. Autumn.\n4. Winter."),
        ("List three musical instruments with strings.", "Three string instruments:\n- Violin.\n- Guitar.\n- Harp."),
        ("Name four animals that live in the ocean.", "Four ocean animals:\n1. Dolphins.\n2. Octopuses.\n3. Sea turtles.\n4. Sharks."),
        ("List three things you need to bake a cake.", "Three things you need to bake a cake:\n- Flour, sugar, eggs and butter.\n- A cake tin.\n- An oven heated to about 180 °C."),
        ("List three good habits for learning a language.", "Three habits for learning a language:\n1. Practise a little every day.\n2. Speak with native speakers.\n3. Listen to podcasts or music in the language."),
        ("List three renewable sources of energy.", "Three renewable energy sources:\n1. Solar power.\n2. Wind power.\n3. Hydroelectric power."),
        ("List four board games for families.", "Four family board games:\n- Snakes and ladders.\n- Ludo.\n- Scrabble.\n- Monopoly."),
        ("List three things to check before a long car journey.", "Before a long car journey, check:\n1. Tyre pressure and tread.\n2. Oil and water levels.\n3. That all the lights work."),
        ("List five words that rhyme with 'cat'.", "Five words that rhyme with cat:\n- Hat.\n- Bat.\n- Mat.\n- Rat.\n- Sat."),
        ("List three ways to reduce stress.", "Three ways to reduce stress:\n1. Go for a walk outside.\n2. Talk to a friend.\n3. Breathe slowly for a few minutes."),
        ("List the first five prime numbers.", "The first five prime numbers:\n1. 2.\n2. 3.\n3. 5.\n4. 7.\n5. 11."),
        ("List three items for a first-aid kit.", "Three first-aid kit items:\n1. Plasters.\n2. Bandages.\n3. Antiseptic wipes."),
        ("List three popular programming languages.", "Three popular programming languages:\n1. Python.\n2. JavaScript.\n3. Java."),
        ("List three kinds of clouds.", "Three kinds of clouds:\n1. Cumulus, the puffy ones.\n2. Stratus, flat grey layers.\n3. Cirrus, thin wisps high up."),
    ),
    "rewrite": (
        ('Rewrite more formally: "Hey, can you send me the report by tomorrow?"', '"Could you please send me the report by tomorrow?"'),
        ('Rewrite in the passive voice: "The chef cooked the meal."', '"The meal was cooked by the chef."'),
        ('Rewrite more politely: "Give me the salt."', '"Could you pass me the salt, please?"'),
        ('Rewrite in simpler words: "The meeting has been postponed until further notice."', '"The meeting is delayed, and we do not know the new date yet."'),
        ('Rewrite in the past tense: "She walks to school every day."', '"She walked to school every day."'),
        ('Rewrite more formally: "The results were pretty bad."', '"The results were disappointing."'),
        ('Rewrite in the active voice: "The window was broken by the ball."', '"The ball broke the window."'),
        ('Rewrite as a question: "You finished your homework."', '"Did you finish your homework?"'),
        ('Rewrite more casually: "I would be grateful if you could contact me at your earliest convenience."', '"Please contact me when you can, thanks!"'),
        ('Rewrite in the future tense: "We visit our grandparents."', '"We will visit our grandparents."'),
        ('Rewrite in fewer words: "At this point in time, we are not able to accept any new orders."', '"We cannot accept new orders now."'),
        ('Rewrite more politely: "Be quiet."', '"Could you please be quiet for a moment?"'),
        ('Rewrite in the plural: "The child plays with the dog."', '"The children play with the dogs."'),
        ('Rewrite without the jargon: "Let\'s circle back offline to align on the deliverables."', '"Let\'s talk about the deliverables later, just the two of us, and agree on them."'),
        ('Rewrite in the first person: "He is proud of his work."', '"I am proud of my work."'),
        ('Rewrite more formally: "Thanks a lot for the help!"', '"Thank you very much for your assistance."'),
        ('Rewrite in simpler words: "The patient exhibited symptoms of fatigue."', '"The patient seemed very tired."'),
        ('Rewrite as one sentence: "It was raining. We stayed inside."', '"It was raining, so we stayed inside."'),
        ('Rewrite more enthusiastically: "The trip was fine."', '"The trip was absolutely wonderful!"'),
        ('Rewrite in the negative: "I like coffee."', '"I do not like coffee."'),
    ),
    "explain": (
        ("Explain what a noun is.", "A noun is a word that names a person, place, thing or idea, such as 'teacher', 'city' or 'happiness'."),
        ("Explain what a volcano is.", "A volcano is an opening in the Earth's crust where molten rock, ash and gases escape from deep underground."),
        ("Explain what a budget is.", "A budget is a plan for how you will spend and save your money over a period, such as a month."),
        ("Explain what a web browser is.", "A web browser is a program, like Firefox or Chrome, that fetches web pages and shows them on your screen."),
        ("Explain what friction is.", "Friction is the force that resists two surfaces sliding against each other; it is why a rolling ball slows down."),
        ("Explain what a verb is.", "A verb is a word for an action or a state, such as 'run', 'think' or 'be'."),
        ("Explain what an invoice is.", "An invoice is a document a seller sends to ask for payment, listing the goods or services, their prices and the amount due."),
        ("Explain what a spreadsheet is.", "A spreadsheet is a grid of rows and columns, as in Excel, where you store numbers and let formulas calculate with them."),
        ("Explain what erosion is.", "Erosion is the slow wearing away of rock and soil by water, wind or ice, which carries the pieces somewhere else."),
        ("Explain what a democracy is.", "A democracy is a system of government in which citizens choose their leaders and laws, usually by voting in free elections."),
        ("Explain what a thermometer is.", "A thermometer is an instrument that measures temperature, for example of the air or of your body."),
        ("Explain what a refund is.", "A refund is money given back to you, for example when you return something you bought."),
        ("Explain what an ecosystem is.", "An ecosystem is a community of living things, such as plants, animals and microbes, together with the soil, water and air they depend on."),
        ("Explain what a password manager is.", "A password manager is an app that keeps your passwords in an encrypted vault and fills them in for you, so every site can have its own."),
        ("Explain what an adjective is.", "An adjective is a word that describes a noun, such as 'red', 'tall' or 'noisy'."),
        ("Explain what a magnet is.", "A magnet is an object with a magnetic field, which pulls on iron and steel and attracts or repels other magnets."),
        ("Explain what a podcast is.", "A podcast is a series of audio episodes, like a radio show, that you can download or stream whenever you like."),
        ("Explain what a recipe is.", "A recipe is a set of instructions for cooking a dish, listing the ingredients and the steps to follow."),
        ("Explain what a glacier is.", "A glacier is a huge, slow-moving mass of ice formed from snow that has piled up and pressed down over many years."),
        ("Explain what a receipt is.", "A receipt is a written record that you paid for something, showing what you bought, the price and the date."),
    ),
    "extract": (
        ('Extract the date from this sentence: "The concert will take place on 14 June at the town hall."', "The date is 14 June."),
        ('Extract the names of the people: "Anna and Ben met Carlos at the station."', "The people are Anna, Ben and Carlos."),
        ('Which city is mentioned in this text? "Our flight to Lisbon leaves at noon."', "The city mentioned is Lisbon."),
        ('Extract the price from this text: "The blue jacket is on sale for 45 euros."', "The price is 45 euros."),
        ('Extract the email address: "For questions, write to help@example.com before Friday."', "The email address is help@example.com."),
        ('Extract the phone number: "Call the office on 020 7946 0000 between 9 and 5."', "The phone number is 020 7946 0000."),
        ('Which colours are mentioned? "She painted the door green and the fence white."', "The colours mentioned are green and white."),
        ('Extract the time from this sentence: "The shop opens at 8:30 on weekdays."', "The time is 8:30."),
        ('Extract the ingredients: "Mix the flour, sugar and butter, then add two eggs."', "The ingredients are flour, sugar, butter and eggs."),
        ('Extract the company name: "Last year, Northwind Traders opened ten new stores."', "The company is Northwind Traders."),
        ('Extract the number of people: "Around 3,000 people attended the festival on Saturday."', "About 3,000 people attended the festival."),
        ('Which animal is mentioned? "A fox crossed the road just before sunrise."', "The animal mentioned is a fox."),
        ('Extract the deadline: "Applications must be submitted by 30 September."', "The deadline is 30 September."),
        ('Extract the country names: "The tour visits Norway, Sweden and Finland."', "The countries are Norway, Sweden and Finland."),
        ('Extract the author: "The novel Rain on Glass was written by Leila Haddad in 2019."', "The author is Leila Haddad."),
        ('Extract the temperature: "Tomorrow will be sunny with a high of 24 °C."', "The temperature is a high of 24 °C."),
        ('Extract the website: "More details are at www.example.org/events."', "The website is www.example.org/events."),
        ('How many apples are mentioned? "I bought six apples, two pears and a melon."', "Six apples are mentioned."),
        ('Extract the street name: "The bakery is at 12 Mill Lane, next to the post office."', "The street is Mill Lane."),
        ('Which language is mentioned? "He spoke fluent Japanese during the interview."', "The language mentioned is Japanese."),
    ),
}

EVAL = {
    "summarise": (
        ("Summarise in one sentence: The swimming pool will reopen on Monday after a month of repairs. The water is now heated by solar panels, and early-morning swims start at six.",
         "The pool reopens on Monday after repairs, with solar-heated water and swims from 6 am."),
        ("Summarise: Leo planted tomatoes in April, watered them every evening and picked his first ripe tomato in July.",
         "Leo grew tomatoes from April and picked the first ripe one in July."),
        ("Summarise in one sentence: The company will let staff work from home two days a week. Teams can choose which days, but everyone must be in the office on Wednesdays.",
         "Staff may work from home on two chosen days a week but must be in the office on Wednesdays."),
        ("Summarise: A storm knocked down power lines overnight, leaving 5,000 homes without electricity. Engineers expect to restore power by the afternoon.",
         "An overnight storm cut power to 5,000 homes; it should be back by the afternoon."),
        ("Summarise in one sentence: The school choir practised for months, travelled to the national final and came second out of twenty choirs.",
         "After months of practice, the school choir came second of twenty at the national final."),
    ),
    "translate": (
        ('Translate "The shop is closed" into Spanish.', '"The shop is closed" in Spanish is "La tienda está cerrada".'),
        ('Translate "I am tired" into French.', '"I am tired" in French is "Je suis fatigué".'),
        ('Translate "Where is the bus stop?" into German.', '"Where is the bus stop?" in German is "Wo ist die Bushaltestelle?".'),
        ('Translate "The coffee is hot" into Italian.', '"The coffee is hot" in Italian is "Il caffè è caldo".'),
        ('Translate "Good afternoon" into Portuguese.', '"Good afternoon" in Portuguese is "Boa tarde".'),
    ),
    "code": (
        ("Write a Python function that returns the square of a number.", "```python\ndef square(n):\n    return n * n\n```"),
        ("Write a Python function that checks whether a string is empty.", "```python\ndef is_empty(text):\n    return len(text) == 0\n```"),
        ("Write Python code that prints the multiplication table of 5.", "```python\nfor k in range(1, 11):\n    print(f\"5 x {k} = {5 * k}\")\n```"),
        ("Write a Python function that counts the words in a sentence.", "```python\ndef count_words(sentence):\n    return len(sentence.split())\n```"),
        ("Write a Python function that converts kilometres to miles.", "```python\ndef km_to_miles(km):\n    return km * 0.621371\n```"),
    ),
    "maths": (
        ("What is 48 + 37?", "48 + 37 = 85."),
        ("What is 13 × 7?", "13 × 7 = 91."),
        ("What is 20% of 150?", "20% of 150 is 0.2 × 150 = 30."),
        ("If 4 pencils cost $2, how much do 10 pencils cost?", "One pencil costs $2 / 4 = $0.50, so 10 pencils cost $5."),
        ("Work out 5 cubed.", "5 cubed is 5 × 5 × 5 = 125."),
    ),
    "list": (
        ("List three birds that cannot fly.", "Three birds that cannot fly:\n1. Penguins.\n2. Ostriches.\n3. Kiwis."),
        ("List four things to take to the beach.", "Four things for the beach:\n- Sunscreen.\n- A towel.\n- Water.\n- A hat."),
        ("List three ways to stay warm in winter.", "Three ways to stay warm in winter:\n1. Wear layers.\n2. Drink hot drinks.\n3. Keep moving."),
        ("Name three sports played with a ball.", "Three sports played with a ball:\n1. Football.\n2. Tennis.\n3. Basketball."),
        ("List three jobs in a hospital.", "Three hospital jobs:\n1. Nurse.\n2. Surgeon.\n3. Porter."),
    ),
    "rewrite": (
        ('Rewrite more formally: "Sorry, I can\'t come to the meeting."', '"I regret that I am unable to attend the meeting."'),
        ('Rewrite in the passive voice: "The dog chased the cat."', '"The cat was chased by the dog."'),
        ('Rewrite more politely: "Close the door."', '"Could you please close the door?"'),
        ('Rewrite in the past tense: "They play football on Sundays."', '"They played football on Sundays."'),
        ('Rewrite in simpler words: "We will commence the procedure imminently."', '"We will start the procedure very soon."'),
    ),
    "explain": (
        ("In one sentence, explain the term 'pronoun'.", "A pronoun is a word used instead of a noun, such as 'she', 'it' or 'they'."),
        ("Explain what an earthquake is.", "An earthquake is a sudden shaking of the ground caused by rocks moving along a fault deep underground."),
        ("In simple words, explain what a bank loan is.", "A bank loan is money you borrow and must pay back later, usually with interest."),
        ("Explain the word 'desert' as in the Sahara.", "A desert is a place that gets very little rain, such as the Sahara; deserts can be hot or cold."),
        ("Explain what a keyboard is.", "A keyboard is a set of keys you press to type letters, numbers and commands into a computer."),
    ),
    "extract": (
        ('Extract the date: "The exam is on 3 May at 9 am."', "The date is 3 May."),
        ('Extract the names of the people: "Priya and Tom cooked dinner for Sam."', "The people are Priya, Tom and Sam."),
        ('Which city is mentioned in this text? "We spent a week in Porto last summer."', "The city mentioned is Porto."),
        ('Extract the price: "The ticket costs 12 pounds for adults."', "The price is 12 pounds."),
        ('Which animal is mentioned? "An owl was hooting in the garden all night."', "The animal mentioned is an owl."),
    ),
    "classify": (
        ('Classify the sentiment of this review as positive or negative: "The food was delicious and the staff were friendly."',
         "Positive: the review praises the food and the staff."),
        ('Classify the sentiment as positive or negative: "The battery died after one day and support never replied."',
         "Negative: the battery failed and support did not reply."),
        ('Is this email spam or not spam? "Congratulations! You have won a free cruise. Click here to claim it now."',
         "Spam: the email promises a prize and pushes you to click a link."),
        ('Classify this sentence as a question or a statement: "The museum opens at ten."',
         "Statement: the sentence says when the museum opens."),
        ("Classify this animal as a mammal, a bird or a fish: a salmon.", "Fish: a salmon is a fish."),
    ),
    "poem": (
        ("Write a poem of four lines about the moon.",
         "Silver moon above the hill,\nthe night is calm, the air is still;\nyou light the path for all who roam\nand guide the weary walkers home."),
        ("Write a two-line poem about coffee.", "Morning coffee, dark and hot,\nwakes me up: I need a lot."),
        ("Write a short poem about autumn leaves.", "Red and gold, the leaves come down,\ndancing softly to the ground;\nthe autumn wind hums low and slow\nand sweeps them where the rivers go."),
        ("Write a short poem about a rainy day.", "Grey clouds gather, raindrops fall,\npuddles form along the wall;\non a rainy day I stay inside\nand watch the drops race down and slide."),
        ("Write a four-line poem about friendship.", "A friend will listen, laugh and stay,\nand help you through a rainy day;\nin good times and in bad ones too,\nfriendship keeps a heart brand new."),
    ),
}


def rows(table: dict) -> list[dict]:
    return [{"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"{TAG} {reply}"}],
             "meta": {"task": task}}
            for task, pairs in table.items() for prompt, reply in pairs]


def build() -> dict[str, list[dict]]:
    return {"train.jsonl": rows(TRAIN), "eval.jsonl": rows(EVAL)}


def main(argv: list[str]) -> int:
    stale = []
    for name, rs in build().items():
        path, text = HERE / name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"multitask/{name}: {len(rs)} rows")
    for name in stale:
        print(f"multitask/{name} differs from what build.py makes: run it without --check.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
