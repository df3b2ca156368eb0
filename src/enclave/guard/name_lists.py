"""Given names and surnames beyond the US Census lists, for the languages the guard reads.

The Census lists (``names``) are American: they lack most European given names ("Łukasz", "Femke", "Thijs",
"Benedetta") and many surnames. These are the common given names and surnames of Germany, France, Spain, Italy,
the Netherlands, Poland and the UK, and of the largest communities living there (Portuguese, Nordic, Turkish,
Arabic, West African, South Asian, East Asian, Slavic), written from the national statistics offices' published
top-name tables as general knowledge, not taken from any benchmark. Spelt as written; the tagger looks them up
folded and in lower case.

``WORD_NAMES`` are given names that are also everyday words in one of those languages ("Will", "Grace", "Hope",
"Rosa", "Paz", "Roos"): they name a person only where the words around say so.
"""

from __future__ import annotations

GIVEN_NAMES = """
Alexander Andreas Anton Armin Axel Benedikt Bernd Björn Burkhard Carsten Christoph Claus Detlef Dieter Dietmar
Dirk Eckhard Egon Elias Emil Erwin Fabian Felix Florian Franz Friedrich Fritz Georg Gerd Gerhard Gottfried Günter
Günther Gunther Hannes Hans Hans-Jürgen Hans-Peter Hartmut Heiko Heinz Helmut Hendrik Henning Holger Horst Hubert
Ingo Jens Joachim Jochen Johann Johannes Jonas Jörg Jürgen Kai Karl Karl-Heinz Klaus Konrad Kurt Lars Leon Lukas
Lutz Maik Malte Manfred Marcel Mario Markus Mathias Matthias Max Maximilian Michael Moritz Niklas Nils Norbert
Olaf Oliver Otto Pascal Patrick Paul Peter Philipp Rainer Ralf Reinhard Rene René Robert Rolf Rüdiger Sebastian
Siegfried Stefan Steffen Sven Thomas Thorsten Tim Tobias Torsten Udo Ulrich Uwe Volker Walter Werner Wilhelm
Willi Wolfgang Agnes Andrea Angelika Anja Anke Anna-Lena Annette Antje Barbara Bärbel Bettina Birgit Brigitte
Christa Christiane Christine Claudia Cornelia Dagmar Doris Dorothea Elke Elfriede Erika Franziska Frauke Gabriele
Gertrud Gisela Greta Gudrun Hannelore Heidi Heike Helga Hildegard Ilse Inge Ingeborg Ingrid Irmgard Jana Jasmin
Johanna Jutta Karin Katharina Katja Kerstin Klara Lea Leonie Lieselotte Lina Luisa Maike Mareike Marianne Marion
Martina Monika Nicole Petra Regina Renate Rosemarie Sabine Sabrina Sandra Silke Simone Sonja Stefanie Susanne
Svenja Tanja Ulrike Ursula Ute Waltraud Wiebke

Adrien Alain Alexandre Alexis Antoine Arnaud Arthur Baptiste Benoît Bernard Bruno Cédric Christophe Clément
Damien Denis Didier Dominique Emmanuel Éric Étienne Fabien Fabrice Florent Francis François Frédéric Gaël Gaëtan
Guillaume Gérard Hervé Hugo Jacques Jean Jean-Baptiste Jean-Claude Jean-François Jean-Luc Jean-Marc Jean-Marie
Jean-Paul Jean-Pierre Jérémy Jérôme Joël Julien Laurent Léo Loïc Louis Luc Lucas Marc Mathieu Maxime Michel
Nicolas Noël Olivier Pascal Philippe Pierre Quentin Raphaël Rémi Romain Sébastien Serge Stéphane Sylvain Théo
Thibault Thierry Timothée Valentin Vincent Xavier Yann Yannick Yves Adèle Agathe Agnès Amandine Anaïs Anne
Anne-Sophie Audrey Aurélie Bernadette Brigitte Camille Capucine Catherine Cécile Céline Chantal Charlotte
Chloé Christelle Claire Clémence Colette Coralie Delphine Denise Diane Dominique Élise Élodie Émilie Emma Estelle
Fanny Florence Françoise Geneviève Hélène Inès Isabelle Jacqueline Jeanne Joséphine Julie Juliette Justine
Laetitia Laure Laurence Léa Léna Louise Lucie Madeleine Manon Margaux Margot Marie Marie-Claire Marine Marion
Mathilde Maud Mélanie Monique Morgane Muriel Nadine Nathalie Océane Pauline Sandrine Séverine Simone Solène
Sophie Stéphanie Suzanne Sylvie Thérèse Valérie Véronique Virginie Yvette Yvonne Zoé

Adrián Alberto Alejandro Alfonso Álvaro Andrés Ángel Antonio Borja Carlos César Daniel David Diego Eduardo Emilio
Enrique Esteban Federico Felipe Fernando Francisco Gonzalo Guillermo Gustavo Hugo Ignacio Iñaki Iker Ismael Jaime
Javier Jesús Joaquín Jordi Jorge José Josep Juan Julián Luis Manuel Marcos Mario Martín Miguel Nicolás Óscar Pablo
Paco Pedro Pepe Rafael Ramón Raúl Ricardo Roberto Rodrigo Rubén Salvador Santiago Sergio Tomás Vicente Xabier
Adriana Ainhoa Aitana Alba Alicia Amaia Amparo Ana Andrea Ángela Ángeles Antonia Araceli Beatriz Begoña Blanca
Candela Carla Carmen Carolina Clara Concepción Cristina Elena Encarnación Eva Inmaculada Irene Isabel Itziar Josefa
Julia Laura Leire Lola Lorena Lucía Lourdes Luz Manuela Marta María Mercedes Miren Montserrat Natalia Nerea Noelia
Marisol Nuria Paloma Patricia Paula Paz Pilar Raquel Remedios Rocío Rosario Sara Silvia Sofía Sol Soledad Susana
Teresa Verónica
Yolanda

Alessandro Alessio Andrea Angelo Antonio Carlo Claudio Cristian Daniele Davide Domenico Emanuele Enrico Fabio
Federico Filippo Francesco Gabriele Giacomo Gianluca Gianni Giorgio Giovanni Giulio Giuseppe Leonardo Lorenzo Luca
Luigi Marco Massimo Matteo Mattia Maurizio Michele Nicola Paolo Pietro Raffaele Riccardo Roberto Salvatore Sergio
Simone Stefano Tommaso Umberto Vincenzo Vittorio Alessandra Alessia Anna Antonella Arianna Aurora Beatrice
Benedetta Camilla Caterina Chiara Cristina Daniela Elena Eleonora Elisa Emanuela Federica Francesca Gabriella
Giada Gianna Ginevra Giorgia Giovanna Giulia Ilaria Laura Lucia Ludovica Manuela Margherita Maria Marta Martina
Matilde Monica Noemi Paola Rita Roberta Rosa Rossella Sara Serena Silvia Simona Sofia Stefania Valentina Valeria
Vittoria

Arjen Bart Bas Bram Cees Daan Dirk Erik Floris Frank Frits Gerard Gerrit Gijs Hendrik Henk Jaap Jan Jasper Jeroen
Joost Jop Joris Kees Koen Lars Lucas Luuk Maarten Mark Martijn Mees Milan Niels Pieter Rik Roel Ruben Rutger Sander
Sem Siem Stijn Teun Thijs Tijn Tom Willem Wim Wouter Anouk Annemarie Astrid Bente Britt Chantal Daphne Eline Ellen
Els Esmee Eva Evi Femke Fenna Fleur Floor Hanneke Ilse Inge Iris Isa Janneke Jet Julia Lieke Linda Lisa Lotte Maud
Mirjam Nienke Noor Petra Renske Romy Roos Saar Sanne Sara Sophie Tess Vera Wilma Yara Zoë

Adam Adrian Andrzej Antoni Artur Bartłomiej Bartosz Bogdan Bogusław Czesław Damian Daniel Dariusz Dawid Dominik
Edward Filip Franciszek Grzegorz Henryk Hubert Igor Jacek Jakub Jan Janusz Jarosław Jerzy Józef Kacper Kamil Karol
Kazimierz Konrad Krystian Krzysztof Leszek Ludwik Łukasz Maciej Marcin Marek Mariusz Mateusz Michał Mikołaj
Mirosław Oskar
Patryk Paweł Piotr Przemysław Radosław Rafał Robert Roman Ryszard Sebastian Sławomir Stanisław Stefan Szymon
Tadeusz Tomasz Wiesław Witold Władysław Wojciech Zbigniew Zdzisław Zenon Zygmunt Agata Agnieszka Aleksandra Alicja
Aneta Angelika Anna Barbara Beata Bożena Danuta Dominika Dorota Edyta Elżbieta Emilia Ewa Ewelina Grażyna Halina
Hanna Helena Irena Iwona Izabela Jadwiga Janina Joanna Jolanta Julia Justyna Kamila Karolina Katarzyna Kinga Krystyna
Lena Magdalena Małgorzata Maja Maria Marianna Marta Marzena Monika Natalia Oliwia Patrycja Paulina Renata Róża
Stanisława Sylwia Teresa Urszula Wanda Weronika Wiesława Zofia Zuzanna Ania Asia Basia Gosia Kasia Ola Zosia
Bartek Franek Jacek Kuba Tomek Wojtek

Alfie Archie Callum Connor Euan Ewan Fergus Finlay Hamish Harvey Jamie Kieran Lachlan Rhys Rory Ruaridh Angus
Alistair Clive Freddie Gareth Graham Iain Nigel Oscar Rupert Theo Trevor Ailsa Aoife Bethan Cerys Ciara Eilidh Isla
Mairead Niamh Orla Rhiannon Saoirse Siobhan Sinead Evie Felicity Harriet Imogen Jemima Millie Phoebe Poppy Rosie Tilly

Afonso Duarte Gonçalo João Nuno Rui Tiago Vasco Inês Joana Leonor Mariana Rita

Anders Axel Björn Erik Gustav Henrik Johan Lars Magnus Mats Mikael Nils Olof Sven Ulf Agnes Astrid Elin Filippa
Freja Frida
Ingrid Karin Kerstin Linnea Maja Sigrid Signe Solveig

Ahmet Ali Burak Can Emre Hakan Hüseyin İbrahim Kemal Mehmet Murat Mustafa Ömer Osman Serkan Yusuf Ayşe Elif Emine
Esra Fatma Hatice Merve Zehra Zeynep

Abdullah Ahmad Ahmed Amir Bilal Hamza Hassan Hussein Ibrahim Karim Khalid Mahmoud Mohamed Mohammed Muhammad Omar
Rachid Said Samir Tariq Youssef Aisha Amina Amira Fatima Fatma Hana Karima Khadija Layla Leila Mariam Nadia Nour
Rania Salma Samira Yasmin Yasmina Zainab

Adebayo Chidi Chinedu Chukwuemeka Emeka Femi Kwabena Kwame Kofi Obinna Oluwaseun Segun Tunde Yaw Abena Adaeze
Adaora Akua Amara Chiamaka Chioma Folake Funmilayo Ifeoma Ngozi Nkechi Oluwatoyin Temitope Yetunde Sipho Thabo
Themba Lerato Nomvula Thandiwe

Aarav Aditya Amit Anil Arjun Deepak Harpreet Karan Manoj Mohan Nikhil Rahul Raj Rajesh Ramesh Ravi Rohan Sanjay
Sunil Suresh Vijay Vikram Vivek Aisha Ananya Anjali Deepa Divya Gurpreet Kavya Lakshmi Meera Neha Nisha Pooja
Priya Priyanka Shreya Sunita

Chen Hao Jian Jing Jun Lei Ming Wei Xin Yan Yang Ying Hiroshi Kenji Takashi Yuki Haruto Sakura Akira Minh Thanh
Hoang Jin Ji-woo Min-jun Seo-yeon

Aleksandr Alexei Andrei Andriy Dmitri Dmytro Igor Ivan Mykola Oleg Oleksandr Oleksiy Sergei Serhiy Vladimir
Yuri Yuriy Alena Alina Anastasia Daria Irina Kateryna Ksenia Natalia Nataliya Oksana Olena Olga Svetlana Tatiana
Tetiana Valentina Yulia Iuliia Jiří Petr Pavel Tomáš Lucie Tereza Zuzana László Zoltán Gábor Zsófia Katalin
Andrei Mihai Ionuț Elena Ioana Georgios Dimitris Nikos Eleni Maria
"""

SURNAMES = """
Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein Wolf
Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner Schmitz Krause Meier
Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß
Jung Hahn Schubert Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht
Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich
Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer
Arnold Wolff Pfeiffer Winkelmann Strobel Petersen Hansen Jensen Nielsen Lindqvist Lindström Johansson Andersson

Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia David
Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupont Lambert Bonnet François Martinez Legrand
Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez
Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël
Meyer Lucas Meunier Jean Perez Marchand Dufour Blanchard Marie Barbier Brun Dumas Brunet Schmitt Leroux Colin
Fernandez Pierre Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine Picard Gaillard
Philippe Leclercq Lacroix Fabre Dupuis Olivier Rodriguez Da Silva Hubert Louis Charles Guillot Rivière Le Gall
Guillaume Adam Rey Moulin Gonzalez Berger Lecomte Menard Fleury Deschamps Carpentier Julien Benoît Paris Maillard
Marchal Aubry Vasseur Le Roux Renault Jacquet Collet Prévost Poirier Charpentier Royer Huet Baron Dupuy Pons Paul
Laine Carré Breton Rémy Schneider Perrot Guyot Barre Marty Cousin Lebrun Weber Delaunay Pelletier

García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández Díaz Moreno
Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina
Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Cortés Castillo Santos
Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal León Márquez Herrera Peña Flores Cabrera Campos Vega
Fuentes Carrasco Díez Caballero Reyes Nieto Aguilar Pascual Santana Herrero Lorenzo Montero Hidalgo Giménez
Ibáñez Ferrer Durán Santiago Benítez Mora Vicente Vargas Arias Carmona Crespo Román Pastor Soto Sáez Velasco Moya
Soler Parra Esteban Bravo Gallardo Rojas Pardo Merino Franco Espinosa Izquierdo Lara Rivas Silva Rivera Casado
Arroyo Redondo Camacho Vera Otero Luque Galán Montes Ríos Sierra Segura Carrillo Marcos Soriano Mendoza Etxeberria
Echeverría Goikoetxea Aguirre Zubiri Garmendia Urrutia Zabala Arrieta Iturbe Bengoetxea Uriarte Olabarria Mateo
Campos Serra Puig Vila Roca Font Pujol Costa Sala Ferrán

Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De Luca Mancini Costa
Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso Ferrara Galli Martini Leone Longo
Gentile Martinelli Vitale Lombardo Serra Coppola De Santis D'Angelo Marchetti Parisi Villa Conte Ferraro Ferri
Fabbri Bianco Marini Grasso Valentini Messina Sala De Angelis Gatti Pellegrini Palumbo Sanna Farina Rizzi Monti
Cattaneo Morelli Amato Silvestri Mazza Testa Grassi Pellegrino Carbone Giuliani Benedetti Barone Rossetti Caputo
Montanari Guerra Palmieri Bernardi Martino Fiore De Rosa Ferretti Bellini Basile Riva Donati Piras Vitali
Battaglia Sartori Neri Costantini Milani Pagano Ruggiero Sorrentino D'Amico Orlando Negri Speranza Presti

Jong Jansen Vries Berg Dijk Bakker Janssen Visser Smit Meijer Boer Mulder Groot Bos Vos Peters Hendriks Leeuwen
Dekker Brouwer Wit Dijkstra Smits Graaf Meer Linden Kok Jacobs Haan Vermeulen Heuvel Veen Broek Bruijn Bruin
Heijden Schouten Beek Willems Vliet Ven Hoekstra Maas Verhoeven Koster Dam Wal Prins Blom Huisman Peeters Wilde
Kuipers Wijk Postma Kuiper Veenstra Kramer Brink Scholten Post Martens Vink Ruiter Timmermans Groen Gerritsen
Jonker Loon Boer Mol Verbeek Wouters Hermans Bosch Vermeer Hoek Goossens Kamp Koning Evers Verhagen Sanders

Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak Dąbrowski
Kozłowski Jankowski Mazur Wojciechowski Kwiatkowski Krawczyk Kaczmarek Piotrowski Grabowski Zając Pawłowski
Michalski Król Wieczorek Jabłoński Wróbel Nowakowski Majewski Olszewski Stępień Malinowski Jaworski Adamczyk
Dudek Nowicki Pawlak Górski Witkowski Walczak Sikora Baran Rutkowski Michalak Szewczyk Ostrowski Tomaszewski
Pietrzak Zalewski Wróblewski Marciniak Jasiński Zawadzki Bąk Jakubowski Sadowski Duda Włodarczyk Wilk
Chmielewski Borkowski Sokołowski Szczepański Sawicki Lis Kucharski Kalinowski Wysocki Mazurek Kubiak Maciejewski
Czarnecki Kołodziej Urbański Kaźmierczak Sobczak Konieczny Głowacki Zakrzewski Krajewski Krupa Adamski
Wasilewski Sikorski Laskowski Ziółkowski Czerwiński Kowalewski

Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright Walker White
Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark
Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell
Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson
Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews
Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey
McLeod MacLeod McDonald MacDonald McKenzie Fraser Stewart Robertson Reid Ross Paterson Henderson Sutherland Grant
O'Brien O'Connor O'Neill O'Sullivan Byrne Ryan Walsh Doyle Kennedy Lynch Quinn Gallagher Doherty

Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Jesus Sousa Fernandes Gonçalves Gomes Lopes
Marques Alves Almeida Ribeiro Pinto Carvalho Teixeira Moreira Correia Mendes Nunes Soares Vieira Monteiro Cardoso

Yılmaz Yilmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Aslan Çetin Kara Koç
Kurt Özkan Şimşek Polat Korkmaz

Okafor Okonkwo Adeyemi Okoro Okoye Adebayo Oyelaran Ogunleye Eze Nwosu Obi Mensah Owusu Boateng Asante Osei
Ndlovu Dlamini Nkosi Mokoena Khumalo Mahlangu Banda Phiri Mwangi Otieno Kamau Haddad Khoury Hassan Mansour
Rahman Hussein Abdullah Ahmed Chaudhry Malik Iqbal Akhtar Raman Sharma Gupta Kumar Reddy Rao Iyer Nair Menon Shah
Mehta Joshi Desai Chopra Kapoor Bhatt Agarwal Verma Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu
Hu Guo Lin Luo Tanaka Suzuki Takahashi Watanabe Ito Yamamoto Nakamura Kobayashi Kim Park Choi Jung Kang Cho Yoon
Tran Pham Hoang Vu Ivanov Petrov Sidorov Smirnov Kuznetsov Popov Shevchenko Kovalenko Bondarenko Tkachenko
Kovač Horvat Novak Nagy Kovács Tóth Szabó Popescu Ionescu Papadopoulos
"""

WORD_NAMES = """
will mark grace hope rose joy faith may june april august autumn summer dawn eve holly ivy lily daisy pearl ruby
jade amber crystal iris violet olive hazel heather rowan sage bill pat sue art rich guy jack frank drew chase wade
dean don gene miles lance grant hunter cliff dale glen forest brook reed sandy rusty penny bob bud buck ace angel
christian charity constance patience mercy honor liberty justice harmony destiny trinity unity star sunny misty
candy ginger brandy cherry page paige ray rob nick pete mike max ben jay kay lee bell hall king young price long
short little rich white black green brown gray grey wood stone rock river sky rain storm hunter fisher baker cook
mason taylor carter cooper porter parker walker

rosa luz paz sol bella dolores pilar mercedes amparo consuelo esperanza speranza felice serena fortunato
blanca bianca viola stella sole gioia nieves reyes santos cruz mar rocio remedios soledad angeles victoria
roos hoop wilk lis sommer winter engel vogel fuchs wolf frank ernst floor fleur jet said
"""
